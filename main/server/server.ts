// Browser mode: the same services and the same built renderer, over HTTP + one WebSocket, on
// 127.0.0.1 only, behind a per-launch token (see access.ts).
import { existsSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import {
  TOKEN_PARAM,
  WS_PATH,
  type EventMessage,
  type EventName,
  type PayloadOf,
  type ReplyMessage,
} from '../api/index.js';
import type { Dispatcher } from '../rpc/dispatcher.js';
import { checkAccess, createToken, tokenCookieName } from './access.js';
import { browserModeCsp, serveStatic } from './static-files.js';
import { isLibraryRoute, serveLibraryFile, type LibraryFileLookup } from './library-files.js';

export interface StudioServerOptions {
  dispatcher: Dispatcher;
  rendererFolder: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  token?: string;
  log?: (message: string) => void;
  /** Where /library/thumb|file/<uid> finds its file (the gallery); absent: 404. */
  libraryFiles?: LibraryFileLookup;
}

export interface StudioServer {
  readonly port: number;
  readonly token: string;
  /** The address to open, token included. */
  readonly url: string;
  broadcast<E extends EventName>(event: E, payload: PayloadOf<E>): void;
  close(): Promise<void>;
}

const MAX_MESSAGE_BYTES = 1 << 20;

function securityHeaders(port: number): Record<string, string> {
  return {
    'Content-Security-Policy': browserModeCsp(port),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'X-Frame-Options': 'DENY',
  };
}

function rejectUpgrade(socket: Duplex, status: number, reason: string): void {
  const text = status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Not Found';
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${reason}`);
}

/** Parses one WebSocket message into a call, or the reply that refuses it. */
function parseRequest(data: RawData): { id: number; method: unknown; params: unknown } | ReplyMessage {
  let message: unknown;
  try {
    message = JSON.parse(data.toString());
  } catch {
    return { id: null, ok: false, error: { code: 'BAD_REQUEST', message: 'message is not valid JSON' } };
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    return { id: null, ok: false, error: { code: 'BAD_REQUEST', message: 'message must be an object' } };
  }
  const { id, method, params } = message as Record<string, unknown>;
  if (typeof id !== 'number' || !Number.isSafeInteger(id)) {
    return { id: null, ok: false, error: { code: 'BAD_REQUEST', message: 'message needs an integer "id"' } };
  }
  if (typeof method !== 'string') {
    return { id, ok: false, error: { code: 'BAD_REQUEST', message: 'message needs a string "method"' } };
  }
  return { id, method, params };
}

export async function startStudioServer(options: StudioServerOptions): Promise<StudioServer> {
  const token = options.token ?? createToken();
  const log = options.log ?? (() => {});
  const sockets = new Set<WebSocket>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  let port = 0;

  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const headers = securityHeaders(port);
    const access = checkAccess(req, token, port);
    if (!access.ok) {
      res.writeHead(access.status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' }).end(access.reason);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...headers, Allow: 'GET, HEAD' }).end('method not allowed');
      return;
    }
    if (access.via === 'query') {
      headers['Set-Cookie'] = `${tokenCookieName(port)}=${token}; Path=/; HttpOnly; SameSite=Strict`;
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (isLibraryRoute(url.pathname)) {
      void serveLibraryFile(url.pathname, options.libraryFiles, res, headers);
      return;
    }
    if (url.pathname.startsWith('/api/')) {
      res.writeHead(404, headers).end('not found');
      return;
    }
    if (!existsSync(options.rendererFolder)) {
      res.writeHead(503, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' })
        .end('The renderer is not built: run `npm run build`.');
      return;
    }
    void serveStatic(options.rendererFolder, url.pathname, res, headers).catch((error: unknown) => {
      log(`static: ${String(error)}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== WS_PATH) return rejectUpgrade(socket, 404, 'not found');
    const access = checkAccess(req, token, port);
    if (!access.ok) return rejectUpgrade(socket, access.status, access.reason);
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      ws.on('error', () => ws.terminate());
      ws.on('message', (data) => {
        const request = parseRequest(data);
        if ('ok' in request) {
          ws.send(JSON.stringify(request));
          return;
        }
        void options.dispatcher.dispatch(request.method, request.params).then((reply) => {
          const message: ReplyMessage = { id: request.id, ...reply };
          if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
        });
      });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;

  return {
    port,
    token,
    url: `http://127.0.0.1:${port}/?${TOKEN_PARAM}=${encodeURIComponent(token)}`,
    broadcast(event, payload) {
      const message: EventMessage = { event, payload } as EventMessage;
      const text = JSON.stringify(message);
      for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(text);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of sockets) ws.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
