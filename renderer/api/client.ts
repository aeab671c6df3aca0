// The renderer's typed client: resolves with the method's result or throws an ApiError.
// Components and stores use this, never the platform directly.
import {
  ApiError,
  type EventName,
  type MethodName,
  type ParamsOf,
  type PayloadOf,
  type ResultOf,
  type StudioPlatform,
} from '@api';
import { createWebSocketPlatform, socketUrl } from './websocket-platform';

export interface StudioClient {
  readonly kind: StudioPlatform['kind'];
  call<M extends MethodName>(method: M, params?: ParamsOf<M>): Promise<ResultOf<M>>;
  on<E extends EventName>(event: E, listener: (payload: PayloadOf<E>) => void): () => void;
}

export function createClient(platform: StudioPlatform): StudioClient {
  return {
    kind: platform.kind,
    async call(method, params) {
      const reply = await platform.call(method, params);
      if (!reply.ok) throw new ApiError(reply.error.code, reply.error.message);
      return reply.result;
    },
    on: (event, listener) => platform.on(event, listener),
  };
}

/** The Electron preload's `window.studio` when present, else browser mode's WebSocket. */
export function detectPlatform(win: Window = window): StudioPlatform {
  return win.studio ?? createWebSocketPlatform(socketUrl(win.location));
}
