// The messages both transports carry. Electron IPC and the WebSocket carry the same envelopes, so
// the dispatcher and the client do not care which one is underneath.
import type { ApiErrorShape } from './errors.js';
import type { EventName, MethodName, PayloadOf, ResultOf } from './contract.js';

/** WebSocket only: IPC has its own request/response pairing. */
export interface RequestMessage {
  id: number;
  method: string;
  params?: unknown;
}

export type Reply<M extends MethodName = MethodName> =
  | { ok: true; result: ResultOf<M> }
  | { ok: false; error: ApiErrorShape };

/** A reply on the WebSocket names the request it answers; `null` when the request had no usable id. */
export type ReplyMessage = { id: number | null } & Reply;

export interface EventMessage<E extends EventName = EventName> {
  event: E;
  payload: PayloadOf<E>;
}

/** The IPC channel names; the preload and the main side must agree on them. */
export const IPC_CALL_CHANNEL = 'studio:call';
export const IPC_EVENT_CHANNEL = 'studio:event';

/** Name of the HTTP cookie / query parameter that carries the browser-mode token. */
export const TOKEN_PARAM = 'token';
/** Path of the WebSocket endpoint in browser mode. */
export const WS_PATH = '/api/ws';
