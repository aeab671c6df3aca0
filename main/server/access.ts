// Who may talk to browser mode. The server listens on 127.0.0.1 only, but any local process or web
// page could still reach it, so every HTTP and WebSocket request must also:
// - name our host (Host header), which defeats DNS rebinding;
// - come from our own origin when it carries an Origin header (a foreign page is refused);
// - carry the random per-launch token: `?token=`, `Authorization: Bearer`, or the cookie set when
//   the page was opened with the token.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { TOKEN_PARAM } from '../api/index.js';

export function createToken(): string {
  return randomBytes(24).toString('base64url');
}

export function tokenCookieName(port: number): string {
  // Cookies ignore the port, so two studios on one host would overwrite each other's cookie.
  return `dimba_token_${port}`;
}

export type AccessDecision =
  | { ok: true; via: 'query' | 'header' | 'cookie' }
  | { ok: false; status: 401 | 403; reason: string };

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

export function allowedHosts(port: number): string[] {
  return [`127.0.0.1:${port}`, `localhost:${port}`];
}

export function checkAccess(req: IncomingMessage, token: string, port: number): AccessDecision {
  const hosts = allowedHosts(port);
  if (!req.headers.host || !hosts.includes(req.headers.host)) {
    return { ok: false, status: 403, reason: 'unexpected Host header' };
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !hosts.some((host) => origin === `http://${host}`)) {
    return { ok: false, status: 403, reason: 'foreign origin' };
  }
  const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
  const fromQuery = url.searchParams.get(TOKEN_PARAM);
  if (fromQuery !== null && sameSecret(fromQuery, token)) return { ok: true, via: 'query' };
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ') && sameSecret(auth.slice(7), token)) return { ok: true, via: 'header' };
  const fromCookie = cookieValue(req.headers.cookie, tokenCookieName(port));
  if (fromCookie !== undefined && sameSecret(fromCookie, token)) return { ok: true, via: 'cookie' };
  return { ok: false, status: 401, reason: 'missing or wrong token' };
}
