// What the renderer needs from whichever shell it runs in. The preload implements it over Electron
// IPC as `window.studio`; browser mode implements it over a WebSocket.
import type { EventName, MethodName, ParamsOf, PayloadOf } from './contract.js';
import type { Reply } from './wire.js';

export interface StudioPlatform {
  readonly kind: 'electron' | 'browser';
  /** Calls a method; never rejects: failures come back as `{ ok: false, error }`. */
  call<M extends MethodName>(method: M, params?: ParamsOf<M>): Promise<Reply<M>>;
  /** Subscribes to an event; returns the unsubscribe function. */
  on<E extends EventName>(event: E, listener: (payload: PayloadOf<E>) => void): () => void;
}
