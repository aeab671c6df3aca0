// The engine process as a node child process (browser mode, the CLI, tests). `advanced`
// serialization is structured clone, so image bytes cross as Uint8Array without base64.
import { fork } from 'node:child_process';
import type { EngineChannel, ExitInfo, SpawnEngine, SpawnOptions } from './channel.js';
import type { HostMessage } from './protocol.js';

export function nodeEngineSpawner(entry: string, execArgv: string[] = []): SpawnEngine {
  return (options: SpawnOptions): EngineChannel => {
    const child = fork(entry, [], {
      serialization: 'advanced',
      execArgv,
      env: { ...process.env, ...options.env },
      // The engine's own stdout would interleave with the CLI's; its stderr is worth keeping.
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    let exited = false;
    const exitListeners: ((info: ExitInfo) => void)[] = [];
    const fire = (info: ExitInfo) => {
      if (exited) return;
      exited = true;
      for (const l of exitListeners) l(info);
    };
    child.on('exit', (code, signal) => fire({ code, signal }));
    // A failed spawn emits 'error' and may never emit 'exit'.
    child.on('error', () => fire({ code: null, signal: null }));
    return {
      pid: child.pid,
      send(message: HostMessage) {
        if (!exited && child.connected) child.send(message);
      },
      onMessage(listener) {
        child.on('message', (m: unknown) => listener(m));
      },
      onExit(listener) {
        exitListeners.push(listener);
      },
      kill() {
        if (!exited) child.kill('SIGKILL');
      },
    };
  };
}
