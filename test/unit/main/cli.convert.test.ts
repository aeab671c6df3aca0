// `dimba convert`: writes the safetensors beside the input (or where told), never overwrites,
// and refuses hostile files and bad arguments with the CLI's exit codes.
import { copyFileSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from '../../../main/cli/command.js';
import convert from '../../../main/cli/commands/convert.js';
import { runCli } from '../../../main/cli/registry.js';
import { useTempFolders } from '../support/temp.js';

const FIXTURES = path.resolve('native/tests/data/torch');
const temp = useTempFolders();

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['convert', ...args], [convert], { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out, err: err.join('\n') };
}

describe('dimba convert', () => {
  it('writes IN.safetensors beside the input and prints its path; never overwrites', async () => {
    const dir = temp();
    const src = path.join(dir, 'model.pt');
    copyFileSync(path.join(FIXTURES, 'dimba_state_dict.pt'), src);
    const r = await run([src]);
    expect(r.code, r.err).toBe(EXIT_OK);
    expect(r.out).toEqual([path.join(dir, 'model.safetensors')]);
    expect(r.err).toMatch(/13 tensors/);
    const again = await run([src]);
    expect(again.code).toBe(EXIT_FAILED);
    expect(again.err).toMatch(/E_EXISTS/);
  });

  it('refuses a hostile checkpoint with exit 1 and its code, leaving nothing', async () => {
    const dir = temp();
    const src = path.join(dir, 'evil.pt');
    copyFileSync(path.join(FIXTURES, 'hostile_builtins_eval.pt'), src);
    const r = await run([src, path.join(dir, 'out.safetensors')]);
    expect(r.code).toBe(EXIT_FAILED);
    expect(r.err).toMatch(/E_UNSUPPORTED_FORMAT: .*builtins\.eval/);
    expect(readdirSync(dir)).toEqual(['evil.pt']);
  });

  it('exits 2 on bad arguments', async () => {
    const dir = temp();
    writeFileSync(path.join(dir, 'a.txt'), 'x');
    expect((await run([])).code).toBe(EXIT_USAGE);
    expect((await run([path.join(dir, 'a.txt')])).code).toBe(EXIT_USAGE);
    expect((await run([path.join(dir, 'a.pt'), path.join(dir, 'b.bin')])).code).toBe(EXIT_USAGE);
    expect(existsSync(path.join(dir, 'b.bin'))).toBe(false);
  });
});
