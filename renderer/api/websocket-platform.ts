// Browser mode's implementation of the platform: API calls and events over one WebSocket to the
// studio's local server. The token comes from the page address the server printed.
import {
  TOKEN_PARAM,
  WS_PATH,
  isApiErrorShape,
  type EventName,
  type MethodName,
  type ParamsOf,
  type PayloadOf,
  type Reply,
  type StudioPlatform,
} from '@api';

type Pending = (reply: Reply) => void;

export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(): void;
  addEventListener(type: 'open' | 'close' | 'error', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
}

export function socketUrl(location: Pick<Location, 'host' | 'protocol' | 'search'>): string {
  const token = new URLSearchParams(location.search).get(TOKEN_PARAM) ?? '';
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}${WS_PATH}?${TOKEN_PARAM}=${encodeURIComponent(token)}`;
}

const OPEN = 1;

export function createWebSocketPlatform(
  url: string,
  open: (url: string) => WebSocketLike = (u) => new WebSocket(u),
): StudioPlatform {
  const pending = new Map<number, Pending>();
  const listeners = new Map<string, Set<(payload: unknown) => void>>();
  let nextId = 1;
  let socket: WebSocketLike | null = null;
  let ready: Promise<WebSocketLike> | null = null;

  function failAll(message: string): void {
    for (const resolve of pending.values()) resolve({ ok: false, error: { code: 'DISCONNECTED', message } });
    pending.clear();
  }

  function onMessage(data: unknown): void {
    if (typeof data !== 'string') return;
    let message: unknown;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (typeof message !== 'object' || message === null) return;
    const m = message as Record<string, unknown>;
    if (typeof m.event === 'string') {
      for (const listener of listeners.get(m.event) ?? []) listener(m.payload);
      return;
    }
    if (typeof m.id !== 'number') return;
    const resolve = pending.get(m.id);
    if (!resolve) return;
    pending.delete(m.id);
    if (m.ok === true) resolve({ ok: true, result: m.result } as Reply);
    else resolve({ ok: false, error: isApiErrorShape(m.error) ? m.error : { code: 'INTERNAL', message: 'malformed reply' } });
  }

  function connect(): Promise<WebSocketLike> {
    if (ready && socket && socket.readyState <= OPEN) return ready;
    ready = new Promise<WebSocketLike>((resolve, reject) => {
      const ws = open(url);
      socket = ws;
      ws.addEventListener('open', () => resolve(ws));
      ws.addEventListener('message', (event) => onMessage(event.data));
      ws.addEventListener('error', () => reject(new Error('cannot reach the studio server')));
      ws.addEventListener('close', () => {
        if (socket === ws) socket = null;
        failAll('the connection to the studio server closed');
        reject(new Error('the connection to the studio server closed'));
      });
    });
    return ready;
  }

  return {
    kind: 'browser',
    async call<M extends MethodName>(method: M, params?: ParamsOf<M>): Promise<Reply<M>> {
      let ws: WebSocketLike;
      try {
        ws = await connect();
      } catch (error) {
        return { ok: false, error: { code: 'DISCONNECTED', message: (error as Error).message } };
      }
      const id = nextId++;
      return new Promise<Reply<M>>((resolve) => {
        pending.set(id, resolve as Pending);
        ws.send(JSON.stringify({ id, method, params }));
      });
    },
    on<E extends EventName>(event: E, listener: (payload: PayloadOf<E>) => void): () => void {
      void connect().catch(() => {});
      const set = listeners.get(event) ?? new Set();
      const wrapped = (payload: unknown): void => listener(payload as PayloadOf<E>);
      set.add(wrapped);
      listeners.set(event, set);
      return () => {
        set.delete(wrapped);
      };
    },
  };
}
