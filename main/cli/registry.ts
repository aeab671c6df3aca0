// Finds the commands (one file each in commands/) and runs the one a user names.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { EXIT_FAILED, EXIT_USAGE, UsageError, type CliIo, type Command } from './command.js';

const COMMAND_NAME = /^[a-z][a-z0-9-]*$/;

function isCommand(value: unknown): value is Command {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.name === 'string' && typeof v.summary === 'string' && typeof v.usage === 'string' && typeof v.run === 'function';
}

/** Loads every command module in `folder` (compiled .js, or .ts when run from the sources in tests). */
export async function loadCommands(
  folder = path.join(path.dirname(fileURLToPath(import.meta.url)), 'commands'),
): Promise<Command[]> {
  const files = readdirSync(folder)
    .filter((file) => /\.(js|ts)$/.test(file) && !/\.(d|test)\.ts$/.test(file))
    .sort();
  const commands: Command[] = [];
  for (const file of files) {
    const module: unknown = await import(pathToFileURL(path.join(folder, file)).href);
    const command = (module as { default?: unknown }).default;
    if (!isCommand(command)) throw new Error(`${file}: the default export is not a command`);
    if (!COMMAND_NAME.test(command.name)) throw new Error(`${file}: bad command name "${command.name}"`);
    if (commands.some((c) => c.name === command.name)) throw new Error(`${file}: command "${command.name}" defined twice`);
    commands.push(command);
  }
  return commands;
}

export async function runCli(argv: readonly string[], commands: readonly Command[], io: CliIo): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h') return runCli(['help', ...args], commands, io);
  if (name === '--version' || name === '-v') return runCli(['version', ...args], commands, io);
  const command = commands.find((c) => c.name === name);
  if (!command) {
    io.err(`dimba: unknown command "${name}". Run \`dimba help\` to list the commands.`);
    return EXIT_USAGE;
  }
  try {
    return await command.run(args, { ...io, commands });
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`dimba ${command.name}: ${error.message}\nusage: dimba ${command.name} ${command.usage}`.trimEnd());
      return EXIT_USAGE;
    }
    io.err(`dimba ${command.name}: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT_FAILED;
  }
}
