import { describe, expect, it } from 'vitest';
import { ApiError, DEFAULT_SETTINGS } from '../../../main/api/index.js';
import { createClient } from '../../../renderer/api/client';
import { createWebSocketPlatform, socketUrl, type WebSocketLike } from '../../../renderer/api/websocket-platform';

type Listener = (event: { data: unknown }) => void;

/** A socket whose server side the test plays by hand. */
class FakeSocket implements WebSocketLike {
  readyState = 0;
  sent: string[] = [];
  private handlers: Record<string, Listener[]> = {};
  addEventListener(type: string, listener: Listener): void {
    (this.handlers[type] ??= []).push(listener);
  }
  send(data: string): void {
    this.sent.push(data);
  }
  close(): void {
    this.fire('close');
  }
  fire(type: string, data?: unknown): void {
    if (type === 'open') this.readyState = 1;
    if (type === 'close') this.readyState = 3;
    for (const listener of this.handlers[type] ?? []) listener({ data });
  }
  lastRequest(): { id: number; method: string; params?: unknown } {
    return JSON.parse(this.sent.at(-1) ?? 'null') as { id: number; method: string; params?: unknown };
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

function setup() {
  const sockets: FakeSocket[] = [];
  const platform = createWebSocketPlatform('ws://x/api/ws?token=t', () => {
    const s = new FakeSocket();
    sockets.push(s);
    return s;
  });
  return { platform, sockets };
}

describe('socketUrl', () => {
  it('carries the page token to the WebSocket endpoint', () => {
    expect(socketUrl({ host: '127.0.0.1:5000', protocol: 'http:', search: '?token=a%2Bb' })).toBe(
      'ws://127.0.0.1:5000/api/ws?token=a%2Bb',
    );
  });
});

describe('websocket platform', () => {
  it('matches replies to calls by id, whatever order they arrive in', async () => {
    const { platform, sockets } = setup();
    const first = platform.call('settings.get');
    const socket = sockets[0];
    if (!socket) throw new Error('no socket opened');
    socket.fire('open');
    await tick();
    const second = platform.call('app.info');
    await tick();
    const [a, b] = socket.sent.map((s) => JSON.parse(s) as { id: number; method: string });
    expect([a?.method, b?.method]).toEqual(['settings.get', 'app.info']);
    socket.fire('message', JSON.stringify({ id: b?.id, ok: false, error: { code: 'INTERNAL', message: 'x' } }));
    socket.fire('message', JSON.stringify({ id: a?.id, ok: true, result: DEFAULT_SETTINGS }));
    expect(await first).toEqual({ ok: true, result: DEFAULT_SETTINGS });
    expect(await second).toEqual({ ok: false, error: { code: 'INTERNAL', message: 'x' } });
  });

  it('fails pending calls with DISCONNECTED when the socket closes, and reconnects on the next call', async () => {
    const { platform, sockets } = setup();
    sockets.length = 0;
    const pending = platform.call('settings.get');
    sockets[0]?.fire('open');
    await tick();
    sockets[0]?.fire('close');
    expect(await pending).toMatchObject({ ok: false, error: { code: 'DISCONNECTED' } });
    const again = platform.call('settings.get');
    expect(sockets).toHaveLength(2);
    sockets[1]?.fire('open');
    await tick();
    sockets[1]?.fire('message', JSON.stringify({ id: sockets[1].lastRequest().id, ok: true, result: DEFAULT_SETTINGS }));
    expect(await again).toMatchObject({ ok: true });
  });

  it('delivers events to subscribers until they unsubscribe', async () => {
    const { platform, sockets } = setup();
    const seen: string[] = [];
    const off = platform.on('onSettingsChanged', (s) => seen.push(s.theme));
    sockets[0]?.fire('open');
    sockets[0]?.fire('message', JSON.stringify({ event: 'onSettingsChanged', payload: { ...DEFAULT_SETTINGS, theme: 'dark' } }));
    off();
    sockets[0]?.fire('message', JSON.stringify({ event: 'onSettingsChanged', payload: { ...DEFAULT_SETTINGS, theme: 'light' } }));
    expect(seen).toEqual(['dark']);
  });
});

describe('client', () => {
  it('throws an ApiError carrying the code of a failed call', async () => {
    const { platform, sockets } = setup();
    const client = createClient(platform);
    const call = client.call('settings.update', { theme: 'dark' });
    sockets[0]?.fire('open');
    await tick();
    const id = sockets[0]?.lastRequest().id;
    sockets[0]?.fire('message', JSON.stringify({ id, ok: false, error: { code: 'INVALID_PARAMS', message: 'bad' } }));
    const error: unknown = await call.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'INVALID_PARAMS', message: 'bad' });
  });
});
