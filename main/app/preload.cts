// The preload: exposes exactly one object, `window.studio`, through the context bridge. It runs
// sandboxed, so it can require nothing but 'electron': the contract is imported for types only, and
// the channel names below are checked against it by the type checker.
import { contextBridge, ipcRenderer } from 'electron';
import type {
  EventName,
  IPC_CALL_CHANNEL as CallChannel,
  IPC_EVENT_CHANNEL as EventChannel,
  MethodName,
  ParamsOf,
  PayloadOf,
  Reply,
  StudioPlatform,
} from '../api/index.js';

const CALL: typeof CallChannel = 'studio:call';
const EVENT: typeof EventChannel = 'studio:event';

const listeners = new Map<string, Set<(payload: unknown) => void>>();

ipcRenderer.on(EVENT, (_event, message: unknown) => {
  if (typeof message !== 'object' || message === null) return;
  const { event, payload } = message as { event?: unknown; payload?: unknown };
  if (typeof event !== 'string') return;
  for (const listener of listeners.get(event) ?? []) listener(payload);
});

const studio: StudioPlatform = {
  kind: 'electron',
  call<M extends MethodName>(method: M, params?: ParamsOf<M>): Promise<Reply<M>> {
    return ipcRenderer.invoke(CALL, method, params).catch(
      (error: unknown): Reply<M> => ({
        ok: false,
        error: { code: 'DISCONNECTED', message: error instanceof Error ? error.message : String(error) },
      }),
    ) as Promise<Reply<M>>;
  },
  on<E extends EventName>(event: E, listener: (payload: PayloadOf<E>) => void): () => void {
    const set = listeners.get(event) ?? new Set();
    const wrapped = (payload: unknown): void => listener(payload as PayloadOf<E>);
    set.add(wrapped);
    listeners.set(event, set);
    return () => {
      set.delete(wrapped);
    };
  },
};

contextBridge.exposeInMainWorld('studio', studio);
