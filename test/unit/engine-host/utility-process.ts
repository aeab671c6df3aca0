// A stand-in for Electron's `utilityProcess` module (no Electron runtime here): fork() starts a
// node child process that runs the entry with `process.parentPort` (utility-process-shim.mjs),
// messages cross by structured clone like Electron's MessagePort, and 'exit' reports only a
// code, as Electron does; a signal death is reported as 128 + the signal's number, the code a
// shell would show.
import { fork } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { UtilityProcessLike, UtilityProcessModule } from '../../../main/engine-host/channel.electron.js';

const SHIM = fileURLToPath(new URL('./utility-process-shim.mjs', import.meta.url));

export interface ForkCall {
  modulePath: string;
  args: string[];
  options: { env?: Record<string, string | undefined>; serviceName?: string } | undefined;
}

export function standInUtilityProcess(): UtilityProcessModule & { forks: ForkCall[] } {
  const forks: ForkCall[] = [];
  return {
    forks,
    fork(modulePath, args = [], options) {
      forks.push({ modulePath, args, options });
      const child = fork(SHIM, [modulePath, ...args], {
        serialization: 'advanced',
        env: options?.env as NodeJS.ProcessEnv | undefined,
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
      const process: UtilityProcessLike = {
        get pid() {
          return child.pid;
        },
        postMessage(message: unknown) {
          child.send(message as Parameters<typeof child.send>[0]);
        },
        on(event: 'message' | 'exit', listener: (value: never) => void) {
          if (event === 'message') child.on('message', listener as (m: unknown) => void);
          else {
            child.on('exit', (code, signal) => {
              const n = signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 0);
              (listener as (code: number) => void)(n);
            });
          }
          return process;
        },
        kill() {
          return child.kill('SIGKILL');
        },
      } as UtilityProcessLike;
      return process;
    },
  };
}
