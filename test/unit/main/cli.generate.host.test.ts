// `dimba generate` runs the engine in its own process through the engine host. On the stand-in
// engine process (no addon needed): PNGs with the recipe are written from the engine's pixels,
// engine errors keep the CLI's exit codes (bad recipe 2, failure 1), and an engine crash ends the
// command with the reason instead of taking the CLI down.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from '../../../main/cli/command.js';
import { makeGenerateCommand } from '../../../main/cli/commands/generate.js';
import { runCli } from '../../../main/cli/registry.js';
import { nodeEngineSpawner } from '../../../main/engine-host/channel.node.js';
import { decodePngRgb, readPngText } from '../../../main/services/images/png.js';
import { recipeFromText } from '../../../main/services/images/recipe-chunks.js';
import { FAKE_ENGINE } from '../engine-host/fake-engine.js';
import { useTempFolders } from '../support/temp.js';

const temp = useTempFolders();
const spawnFake = nodeEngineSpawner(FAKE_ENGINE);
const command = makeGenerateCommand(() => (o) => spawnFake({ env: { ...o.env, DIMBA_FAKE_STEP_MS: '1', DIMBA_ENGINE_FAULTS: '1' } }));

async function generate(prompt: string, extra: string[] = []): Promise<{ code: number; out: string[]; err: string }> {
  const dir = temp();
  const manifest = path.join(dir, 'model.json');
  writeFileSync(manifest, '{}');
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['generate', prompt, '--model', manifest, '--out', path.join(dir, 'out'), ...extra], [command], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  });
  return { code, out, err: err.join('\n') };
}

describe('dimba generate through the engine host', () => {
  it('writes one PNG per image from the engine process, with the recipe and the backend it ran on', async () => {
    const r = await generate('a fox', ['--seed', '9', '--count', '2', '--steps', '3', '--width', '16', '--height', '8']);
    expect(r.code, r.err).toBe(EXIT_OK);
    expect(r.out.map((f) => path.basename(f))).toEqual(['dimba-9.png', 'dimba-10.png']);
    expect(readdirSync(path.dirname(r.out[0]!))).toHaveLength(2);
    const second = readFileSync(r.out[1]!);
    // The stand-in engine fills image k with the byte k.
    const pixels = decodePngRgb(second);
    expect([pixels.width, pixels.height, pixels.rgb[0]]).toEqual([16, 8, 1]);
    expect(recipeFromText(readPngText(second))).toMatchObject({ prompt: 'a fox', seed: 10, steps: 3, width: 16, engine: { backend: 'cpu' } });
    expect(r.err).toMatch(/backend cpu: auto: cpu/);
  });

  it('answers a recipe the engine refuses with exit 2, like a bad argument', async () => {
    const r = await generate('fail:E_INVALID_ARGUMENT');
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.err).toMatch(/asked to fail/);
  });

  it('an engine failure or a model that cannot load exits 1 with the engine\'s message', async () => {
    const failed = await generate('fail:E_OUT_OF_MEMORY');
    expect(failed.code).toBe(EXIT_FAILED);
    expect(failed.err).toMatch(/dimba generate: asked to fail/);
    const dir = temp();
    const missing = path.join(dir, 'missing.json');
    writeFileSync(missing, '{}');
    const code = await runCli(['generate', 'a fox', '--model', missing, '--out', dir], [command], { out: () => undefined, err: () => undefined });
    expect(code).toBe(EXIT_FAILED);
  });

  it('an engine crash mid-run ends the command with the reason; the CLI process lives on', async () => {
    const r = await generate('crash:segfault', ['--steps', '50']);
    expect(r.code).toBe(EXIT_FAILED);
    expect(r.err).toMatch(/SIGSEGV/);
    expect(r.out).toEqual([]);
  });
});
