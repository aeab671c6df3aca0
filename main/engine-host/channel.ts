// The one small interface the host needs from "a process that runs the engine". The node
// implementation (channel.node.ts: child_process.fork) serves browser mode, the CLI and tests;
// the app passes Electron's utilityProcess (channel.electron.ts). The host never knows which.
import type { HostMessage } from './protocol.js';

/** Why the engine process ended, in words a job's error message can carry. */
export interface ExitInfo {
  code: number | null;
  signal: string | null;
}

export interface EngineChannel {
  readonly pid: number | undefined;
  send(message: HostMessage): void;
  /** Messages as received: the host validates them. */
  onMessage(listener: (message: unknown) => void): void;
  onExit(listener: (info: ExitInfo) => void): void;
  /** Ends the process now (SIGKILL where there are signals). */
  kill(): void;
}

export interface SpawnOptions {
  /** Extra environment for the engine process (e.g. DIMBA_ENGINE_FAULTS=1 in tests). */
  env?: Record<string, string>;
}

export type SpawnEngine = (options: SpawnOptions) => EngineChannel;

/** Turns an exit into a reason: a signal name for crashes (SIGABRT, SIGSEGV, SIGKILL for OOM kills). */
export function describeExit({ code, signal }: ExitInfo): string {
  if (signal === 'SIGKILL') return 'the engine process was killed (SIGKILL: out of memory, or killed from outside)';
  if (signal === 'SIGSEGV') return 'the engine process crashed (SIGSEGV: a memory fault in native code)';
  if (signal === 'SIGABRT') return 'the engine process aborted (SIGABRT)';
  if (signal) return `the engine process ended on ${signal}`;
  return `the engine process exited with code ${code ?? 'unknown'}`;
}
