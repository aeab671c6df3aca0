// What a CLI command is. Each command is one file in commands/ whose default export is a Command;
// the registry finds them, so adding a command touches no other file.

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export interface CliContext extends CliIo {
  /** Every registered command, for `help`. */
  commands: readonly Command[];
}

export interface Command {
  /** The word after `dimba`: lowercase letters, digits and dashes. */
  name: string;
  /** One line for `dimba help`. */
  summary: string;
  /** The argument synopsis, e.g. `<prompt> [--steps N]`. */
  usage: string;
  /** Returns the exit code: 0 done, 1 failed, 2 bad usage (or throw UsageError). */
  run(args: readonly string[], context: CliContext): Promise<number> | number;
}

/** Thrown for bad arguments: the runner prints it with the usage line and exits with 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export function defineCommand(command: Command): Command {
  return command;
}
