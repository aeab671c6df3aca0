import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { DEFAULT_SETTINGS } from '../../../main/api/index.js';
import { startBrowserMode } from '../../../main/server/browser-mode.js';
import type { StudioServer } from '../../../main/server/server.js';
import { exchange, httpGet, openSocket } from '../support/http.js';
import { useTempFolders } from '../support/temp.js';

const tempFolder = useTempFolders();
const running: StudioServer[] = [];
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function start(): Promise<StudioServer> {
  const rendererFolder = tempFolder();
  writeFileSync(path.join(rendererFolder, 'index.html'), '<!doctype html><title>studio</title>');
  mkdirSync(path.join(rendererFolder, 'assets'));
  writeFileSync(path.join(rendererFolder, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(path.join(path.dirname(rendererFolder), 'outside.txt'), 'secret');
  const server = await startBrowserMode({ userDataFolder: tempFolder(), rendererFolder, version: '1.2.3', log: () => {} });
  running.push(server);
  return server;
}

async function socket(server: StudioServer, headers: Record<string, string> = {}): Promise<WebSocket> {
  const ws = await openSocket(`ws://127.0.0.1:${server.port}/api/ws?token=${server.token}`, headers);
  if (typeof ws === 'number') throw new Error(`socket refused: ${ws}`);
  sockets.push(ws);
  return ws;
}

describe('browser mode: who may connect', () => {
  it('listens on 127.0.0.1 and prints an address that carries the token', async () => {
    const server = await start();
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/?token=${server.token}`);
    expect(server.token.length).toBeGreaterThanOrEqual(32);
  });

  it('gives every launch its own token', async () => {
    const [a, b] = [await start(), await start()];
    expect(a.token).not.toBe(b.token);
  });

  it('answers 401 to a page or asset request without the token', async () => {
    const server = await start();
    expect((await httpGet(server.port, '/')).status).toBe(401);
    expect((await httpGet(server.port, '/assets/app.js')).status).toBe(401);
    expect((await httpGet(server.port, '/?token=wrong')).status).toBe(401);
  });

  it('serves the page with the token and sets a cookie that then opens the assets', async () => {
    const server = await start();
    const page = await httpGet(server.port, `/?token=${server.token}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>studio</title>');
    const cookie = String(page.headers['set-cookie']?.[0] ?? '').split(';')[0] ?? '';
    expect(page.headers['set-cookie']?.[0]).toMatch(/HttpOnly; SameSite=Strict/);
    const asset = await httpGet(server.port, '/assets/app.js', { Cookie: cookie });
    expect(asset.status).toBe(200);
    expect(asset.headers['content-type']).toMatch(/javascript/);
  });

  it('accepts the token as a bearer header', async () => {
    const server = await start();
    expect((await httpGet(server.port, '/', { Authorization: `Bearer ${server.token}` })).status).toBe(200);
  });

  it('refuses a foreign Origin even with the token', async () => {
    const server = await start();
    const answer = await httpGet(server.port, `/?token=${server.token}`, { Origin: 'http://evil.example' });
    expect(answer.status).toBe(403);
  });

  it('refuses a foreign Host (DNS rebinding) even with the token', async () => {
    const server = await start();
    const answer = await httpGet(server.port, `/?token=${server.token}`, { Host: `evil.example:${server.port}` });
    expect(answer.status).toBe(403);
  });

  it('sends a strict Content-Security-Policy', async () => {
    const server = await start();
    const csp = String((await httpGet(server.port, `/?token=${server.token}`)).headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe');
  });

  it('never serves a file outside the renderer folder', async () => {
    const server = await start();
    for (const probe of ['/../outside.txt', '/%2e%2e/outside.txt', '/assets/..%2f..%2foutside.txt']) {
      const answer = await httpGet(server.port, `${probe}?token=${server.token}`);
      expect(answer.body, probe).not.toContain('secret');
    }
  });

  it('refuses a WebSocket without the token (401) or from a foreign origin (403)', async () => {
    const server = await start();
    expect(await openSocket(`ws://127.0.0.1:${server.port}/api/ws`)).toBe(401);
    expect(await openSocket(`ws://127.0.0.1:${server.port}/api/ws?token=nope`)).toBe(401);
    expect(
      await openSocket(`ws://127.0.0.1:${server.port}/api/ws?token=${server.token}`, { Origin: 'http://evil.example' }),
    ).toBe(403);
  });
});

describe('browser mode: the API over the WebSocket', () => {
  it('answers a call with its id', async () => {
    const server = await start();
    const ws = await socket(server, { Origin: `http://127.0.0.1:${server.port}` });
    expect(await exchange(ws, JSON.stringify({ id: 7, method: 'settings.get' }))).toEqual({
      id: 7,
      ok: true,
      result: DEFAULT_SETTINGS,
    });
  });

  it.each([
    ['text that is not JSON', 'hello', null, 'BAD_REQUEST'],
    ['a JSON array', '[1]', null, 'BAD_REQUEST'],
    ['a message without id', '{"method":"settings.get"}', null, 'BAD_REQUEST'],
    ['a message without method', '{"id":3}', 3, 'BAD_REQUEST'],
    ['an unknown method', '{"id":4,"method":"nope"}', 4, 'UNKNOWN_METHOD'],
    ['bad params', '{"id":5,"method":"settings.update","params":{"theme":"purple"}}', 5, 'INVALID_PARAMS'],
  ])('answers %s with a typed error and stays up', async (_label, text, id, code) => {
    const server = await start();
    const ws = await socket(server);
    const reply = await exchange(ws, text);
    expect(reply).toMatchObject({ id, ok: false, error: { code } });
    expect(await exchange(ws, '{"id":99,"method":"app.info"}')).toMatchObject({ id: 99, ok: true });
  });

  it('sends settings changes to every connected page', async () => {
    const server = await start();
    const [writer, watcher] = [await socket(server), await socket(server)];
    const event = new Promise<unknown>((resolve) => watcher.once('message', (d) => resolve(JSON.parse(String(d)))));
    await exchange(writer, JSON.stringify({ id: 1, method: 'settings.update', params: { theme: 'dark' } }));
    expect(await event).toEqual({ event: 'onSettingsChanged', payload: { ...DEFAULT_SETTINGS, theme: 'dark' } });
  });
});
