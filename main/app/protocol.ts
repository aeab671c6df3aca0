// Serves the built renderer on studio://app/ with the CSP header; nothing outside its folder.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { protocol } from 'electron';
import { resolveInside } from '../server/static-files.js';
import type { LibraryFileLookup } from '../server/library-files.js';
import { APP_HOST, APP_SCHEME, ELECTRON_CSP } from './origin.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

/** Must run before the app is ready. */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([
    { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
  ]);
}

const LIBRARY_ROUTE = /^\/library\/(thumb|file)\/([0-9a-f]{32})$/;
const IMAGE_TYPES: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.webp': 'image/webp' };

/** `libraryFiles`: the gallery's images at studio://app/library/thumb|file/<uid> (same path as browser mode). */
export function serveRenderer(rendererFolder: string, libraryFiles?: LibraryFileLookup): void {
  protocol.handle(APP_SCHEME, async (request) => {
    const headers = { 'Content-Security-Policy': ELECTRON_CSP, 'X-Content-Type-Options': 'nosniff' };
    const url = new URL(request.url);
    const library = url.host === APP_HOST ? LIBRARY_ROUTE.exec(url.pathname) : null;
    if (library && libraryFiles) {
      try {
        // A uid is 32 hex digits, never a path; the gallery resolves it inside the library.
        const file = await libraryFiles(library[1] as 'thumb' | 'file', library[2]!);
        const type = IMAGE_TYPES[path.extname(file).toLowerCase()];
        if (type) return new Response(await fs.readFile(file), { status: 200, headers: { ...headers, 'Content-Type': type } });
      } catch {
        /* answered 404 below */
      }
      return new Response('not found', { status: 404, headers });
    }
    const file = url.host === APP_HOST ? resolveInside(path.resolve(rendererFolder), url.pathname) : null;
    if (!file) return new Response('not found', { status: 404, headers });
    try {
      const body = await fs.readFile(file);
      const type = TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
      return new Response(body, { status: 200, headers: { ...headers, 'Content-Type': type } });
    } catch {
      return new Response('not found', { status: 404, headers });
    }
  });
}
