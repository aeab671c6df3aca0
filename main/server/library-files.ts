// Browser mode's route to the library's images: GET /library/thumb/<uid> and /library/file/<uid>.
// Behind the same token as everything else (checked before this runs); a uid is 32 hex digits,
// so a request cannot name a path, and the gallery resolves the file inside the library.
import { createReadStream } from 'node:fs';
import path from 'node:path';
import type { ServerResponse } from 'node:http';

export type LibraryFileLookup = (kind: 'thumb' | 'file', uid: string) => Promise<string>;

const ROUTE = /^\/library\/(thumb|file)\/([0-9a-f]{32})$/;
const TYPES: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.webp': 'image/webp' };

export function isLibraryRoute(pathname: string): boolean {
  return pathname.startsWith('/library/');
}

export async function serveLibraryFile(pathname: string, lookup: LibraryFileLookup | undefined, res: ServerResponse, headers: Record<string, string>): Promise<void> {
  const m = ROUTE.exec(pathname);
  if (!m || !lookup) {
    res.writeHead(404, headers).end('not found');
    return;
  }
  let file: string;
  try {
    file = await lookup(m[1] as 'thumb' | 'file', m[2]!);
  } catch {
    res.writeHead(404, headers).end('not found');
    return;
  }
  const type = TYPES[path.extname(file).toLowerCase()];
  if (!type) {
    res.writeHead(404, headers).end('not found');
    return;
  }
  // Content never changes under a uid: let the browser keep it.
  res.writeHead(200, { ...headers, 'Content-Type': type, 'Cache-Control': 'private, max-age=31536000, immutable' });
  createReadStream(file)
    .on('error', () => res.destroy())
    .pipe(res);
}
