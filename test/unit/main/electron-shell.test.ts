// The Electron shell's guards, run under node with a stand-in for the electron module (the real
// runtime is not installed everywhere; test/e2e/electron.e2e.ts covers it where it is).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { useTempFolders } from '../support/temp.js';

type Listener = (...args: unknown[]) => unknown;

const fake = vi.hoisted(() => {
  const state = {
    ipcHandlers: new Map<string, (...args: unknown[]) => unknown>(),
    appListeners: new Map<string, (...args: unknown[]) => unknown>(),
    protocolHandler: null as null | ((request: Request) => Promise<Response>),
    windowOptions: null as null | Record<string, unknown>,
    loadedUrl: '',
  };
  return state;
});

vi.mock('electron', () => ({
  ipcMain: { handle: (channel: string, handler: Listener) => fake.ipcHandlers.set(channel, handler) },
  app: { on: (event: string, listener: Listener) => fake.appListeners.set(event, listener) },
  session: { defaultSession: { setPermissionRequestHandler: vi.fn(), setPermissionCheckHandler: vi.fn() } },
  protocol: {
    registerSchemesAsPrivileged: vi.fn(),
    handle: (_scheme: string, handler: (request: Request) => Promise<Response>) => {
      fake.protocolHandler = handler;
    },
  },
  BrowserWindow: class {
    static getAllWindows = () => [];
    constructor(options: Record<string, unknown>) {
      fake.windowOptions = options;
    }
    once(): void {}
    loadURL(url: string): Promise<void> {
      fake.loadedUrl = url;
      return Promise.resolve();
    }
  },
}));

const { registerIpc, isTrustedSender } = await import('../../../main/app/ipc.js');
const { guardAllWebContents } = await import('../../../main/app/hardening.js');
const { serveRenderer } = await import('../../../main/app/protocol.js');
const { createMainWindow } = await import('../../../main/app/window.js');
const { IPC_CALL_CHANNEL } = await import('../../../main/api/index.js');

const tempFolder = useTempFolders();

function frame(url: string, parent: unknown = null) {
  return { url, parent } as unknown as Parameters<typeof isTrustedSender>[0];
}

describe('IPC sender check', () => {
  it('trusts only the top-level frame of the app origin', () => {
    expect(isTrustedSender(frame('studio://app/index.html'))).toBe(true);
    expect(isTrustedSender(frame('studio://app/index.html', {}))).toBe(false);
    expect(isTrustedSender(frame('https://example.com/'))).toBe(false);
    expect(isTrustedSender(frame('file:///tmp/index.html'))).toBe(false);
    expect(isTrustedSender(frame('studio://other/index.html'))).toBe(false);
    expect(isTrustedSender(null)).toBe(false);
  });

  it('answers an untrusted sender with FORBIDDEN and never reaches the dispatcher', async () => {
    const dispatch = vi.fn(() => Promise.resolve({ ok: true as const, result: null }));
    registerIpc({ dispatch } as unknown as Parameters<typeof registerIpc>[0]);
    const handler = fake.ipcHandlers.get(IPC_CALL_CHANNEL);
    if (!handler) throw new Error('no IPC handler registered');
    const refused = await handler({ senderFrame: frame('https://evil.example/') }, 'settings.get', undefined);
    expect(refused).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(dispatch).not.toHaveBeenCalled();
    await handler({ senderFrame: frame('studio://app/index.html') }, 'settings.get', undefined);
    expect(dispatch).toHaveBeenCalledWith('settings.get', undefined);
  });
});

describe('navigation, new windows and webviews', () => {
  const events = new Map<string, Listener>();
  let openHandler: Listener = () => undefined;

  beforeEach(() => {
    events.clear();
    guardAllWebContents();
    const created = fake.appListeners.get('web-contents-created');
    if (!created) throw new Error('no web-contents-created listener');
    created({}, {
      on: (event: string, listener: Listener) => events.set(event, listener),
      setWindowOpenHandler: (handler: Listener) => {
        openHandler = handler;
      },
    });
  });

  function navigate(event: string, url: string): boolean {
    const preventDefault = vi.fn();
    if (event === 'will-frame-navigate') events.get(event)?.({ preventDefault, url });
    else events.get(event)?.({ preventDefault }, url);
    return preventDefault.mock.calls.length > 0;
  }

  it('blocks navigation and redirects away from the app', () => {
    for (const event of ['will-navigate', 'will-redirect', 'will-frame-navigate']) {
      expect(navigate(event, 'https://example.com/'), event).toBe(true);
      expect(navigate(event, 'file:///etc/passwd'), event).toBe(true);
      expect(navigate(event, 'studio://app/index.html'), event).toBe(false);
    }
  });

  it('denies every new window', () => {
    expect(openHandler({ url: 'https://example.com' })).toEqual({ action: 'deny' });
    expect(openHandler({ url: 'studio://app/index.html' })).toEqual({ action: 'deny' });
  });

  it('refuses to attach a webview', () => {
    const preventDefault = vi.fn();
    events.get('will-attach-webview')?.({ preventDefault });
    expect(preventDefault).toHaveBeenCalled();
  });
});

describe('the main window', () => {
  it('runs the page isolated, sandboxed and without node, from the app origin', () => {
    createMainWindow();
    const prefs = (fake.windowOptions?.webPreferences ?? {}) as Record<string, unknown>;
    expect(prefs).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
    });
    expect(String(prefs.preload)).toMatch(/preload\.cjs$/);
    expect(fake.loadedUrl).toBe('studio://app/index.html');
  });
});

describe('studio:// protocol', () => {
  it('serves renderer files with the CSP, and nothing outside the renderer folder', async () => {
    const root = tempFolder();
    const renderer = path.join(root, 'renderer');
    mkdirSync(renderer);
    writeFileSync(path.join(renderer, 'index.html'), '<title>x</title>');
    writeFileSync(path.join(root, 'secret.txt'), 'secret');
    serveRenderer(renderer);
    const handle = fake.protocolHandler;
    if (!handle) throw new Error('no protocol handler');
    const page = await handle(new Request('studio://app/index.html'));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    for (const probe of ['studio://app/../secret.txt', 'studio://app/%2e%2e/secret.txt', 'studio://app/..%2fsecret.txt', 'studio://elsewhere/index.html']) {
      const answer = await handle(new Request(probe));
      expect(await answer.text(), probe).not.toContain('secret');
    }
  });
});
