// The engine process as Electron's utilityProcess (the app). Electron is passed in, not
// imported, so this folder stays plain Node and type-checks without the Electron runtime.
import type { EngineChannel, ExitInfo, SpawnEngine, SpawnOptions } from './channel.js';
import type { HostMessage } from './protocol.js';

/** The part of Electron's `UtilityProcess` the host uses. */
export interface UtilityProcessLike {
  readonly pid: number | undefined;
  postMessage(message: unknown): void;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
  kill(): boolean;
}

export interface UtilityProcessModule {
  fork(modulePath: string, args?: string[], options?: { env?: Record<string, string | undefined>; serviceName?: string }): UtilityProcessLike;
}

export function electronEngineSpawner(utilityProcess: UtilityProcessModule, entry: string): SpawnEngine {
  return (options: SpawnOptions): EngineChannel => {
    const child = utilityProcess.fork(entry, [], {
      env: { ...process.env, ...options.env },
      serviceName: 'Dimba engine',
    });
    let exited = false;
    const exitListeners: ((info: ExitInfo) => void)[] = [];
    child.on('exit', (code: number) => {
      if (exited) return;
      exited = true;
      // utilityProcess reports only an exit code; a crash shows as a non-zero code.
      for (const l of exitListeners) l({ code, signal: null });
    });
    return {
      get pid() {
        return child.pid;
      },
      send(message: HostMessage) {
        if (!exited) child.postMessage(message);
      },
      onMessage(listener) {
        child.on('message', listener);
      },
      onExit(listener) {
        exitListeners.push(listener);
      },
      kill() {
        if (!exited) child.kill();
      },
    };
  };
}
