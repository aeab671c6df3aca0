import { describe, expect, it } from 'vitest';
import { EXIT_USAGE, UsageError, defineCommand, type Command } from '../../../main/cli/command.js';
import { loadCommands, runCli } from '../../../main/cli/registry.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

const boom: Command = defineCommand({
  name: 'boom',
  summary: 'fails',
  usage: '<n>',
  run(args) {
    if (args[0] === 'usage') throw new UsageError('needs a number');
    throw new Error('exploded');
  },
});

describe('cli', () => {
  it('finds the help and version commands in commands/', async () => {
    const names = (await loadCommands()).map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['help', 'version']));
  });

  it('help lists every command with its summary', async () => {
    const commands = await loadCommands();
    const { io, out } = capture();
    expect(await runCli(['help'], commands, io)).toBe(0);
    for (const command of commands) expect(out.join('\n')).toContain(command.summary);
  });

  it('version prints the version from package.json', async () => {
    const { io, out } = capture();
    expect(await runCli(['version'], await loadCommands(), io)).toBe(0);
    expect(out[0]).toMatch(/^dimba \d+\.\d+\.\d+ /);
  });

  it('no command at all shows the help', async () => {
    const { io, out } = capture();
    expect(await runCli([], await loadCommands(), io)).toBe(0);
    expect(out.join('\n')).toContain('usage: dimba <command>');
  });

  it('an unknown command exits 2 and says so', async () => {
    const { io, err } = capture();
    expect(await runCli(['paint'], await loadCommands(), io)).toBe(EXIT_USAGE);
    expect(err.join('\n')).toContain('unknown command "paint"');
  });

  it('bad arguments exit 2 with the usage line', async () => {
    const { io, err } = capture();
    expect(await runCli(['version', 'extra'], await loadCommands(), io)).toBe(EXIT_USAGE);
    expect(err.join('\n')).toMatch(/takes no arguments/);
    const second = capture();
    expect(await runCli(['boom', 'usage'], [boom], second.io)).toBe(EXIT_USAGE);
    expect(second.err.join('\n')).toContain('usage: dimba boom <n>');
  });

  it('a failing command exits 1 with its message', async () => {
    const { io, err } = capture();
    expect(await runCli(['boom', 'x'], [boom], io)).toBe(1);
    expect(err).toEqual(['dimba boom: exploded']);
  });
});
