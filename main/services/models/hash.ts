// Streaming SHA-256 of model files, off the main thread. A 10 GB checkpoint takes tens of
// seconds to hash; doing it on the main process's event loop would freeze every window and
// socket, so each hash runs in a worker thread that reads the file in large chunks.
// The worker's source is a plain-JS string (eval: true) so the same code runs from the
// compiled dist/ and from the TypeScript sources under vitest, with no build step of its own.
import { stat } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const hash = createHash('sha256');
// 4 MiB reads: large enough that syscalls and JS<->C++ crossings are noise next to SHA-256.
const buffer = Buffer.allocUnsafe(4 << 20);
let fd;
try {
  fd = fs.openSync(workerData.path, 'r');
  let bytes = 0;
  for (;;) {
    const n = fs.readSync(fd, buffer, 0, buffer.length, null);
    if (n === 0) break;
    hash.update(n === buffer.length ? buffer : buffer.subarray(0, n));
    bytes += n;
  }
  parentPort.postMessage({ ok: true, sha256: hash.digest('hex'), bytes });
} catch (error) {
  parentPort.postMessage({ ok: false, code: error && error.code, message: String(error && error.message) });
} finally {
  if (fd !== undefined) fs.closeSync(fd);
}
`;

export class HashError extends Error {
  override readonly name = 'HashError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface FileHash {
  sha256: string;
  bytes: number;
}

function isWorkerReply(value: unknown): value is { ok: boolean; sha256?: string; bytes?: number; code?: unknown; message?: string } {
  return typeof value === 'object' && value !== null && typeof (value as { ok?: unknown }).ok === 'boolean';
}

/** SHA-256 (lower-case hex) of a whole file, computed in a worker thread. */
export function sha256File(filePath: string): Promise<FileHash> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path: filePath } });
    let settled = false;
    worker.once('message', (reply: unknown) => {
      settled = true;
      if (isWorkerReply(reply) && reply.ok && typeof reply.sha256 === 'string' && typeof reply.bytes === 'number') {
        resolve({ sha256: reply.sha256, bytes: reply.bytes });
      } else {
        const r = isWorkerReply(reply) ? reply : { code: undefined, message: 'malformed worker reply' };
        reject(new HashError(typeof r.code === 'string' ? r.code : 'E_HASH', `cannot hash ${filePath}: ${r.message ?? ''}`));
      }
      void worker.terminate();
    });
    worker.once('error', (error) => {
      if (!settled) reject(new HashError('E_HASH', `cannot hash ${filePath}: ${error.message}`));
      settled = true;
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new HashError('E_HASH', `hash worker for ${filePath} exited with code ${code}`));
    });
  });
}

interface CacheEntry {
  size: number;
  mtimeMs: number;
  sha256: string;
}

/** Where a hash cache keeps its entries between runs (a JSON file in the models folder). */
export interface HashCacheStore {
  load(): Promise<Record<string, CacheEntry>>;
  save(entries: Record<string, CacheEntry>): Promise<void>;
}

/**
 * Hashes files once: a file whose size and modification time are unchanged since it was
 * hashed is not read again. Concurrent requests for one file share one worker.
 */
export class HashCache {
  private entries: Record<string, CacheEntry> | null = null;
  private readonly inFlight = new Map<string, Promise<string>>();
  /** How many files were actually read (tests and logs). */
  hashedCount = 0;

  constructor(private readonly store?: HashCacheStore) {}

  async sha256(filePath: string): Promise<string> {
    const pending = this.inFlight.get(filePath);
    if (pending) return pending;
    const task = this.compute(filePath).finally(() => this.inFlight.delete(filePath));
    this.inFlight.set(filePath, task);
    return task;
  }

  private async compute(filePath: string): Promise<string> {
    const entries = await this.loaded();
    const before = await stat(filePath);
    const cached = entries[filePath];
    if (cached && cached.size === before.size && cached.mtimeMs === before.mtimeMs) return cached.sha256;
    const { sha256 } = await sha256File(filePath);
    this.hashedCount += 1;
    const after = await stat(filePath);
    // A file written while it was hashed gets a hash of neither version: do not cache it.
    if (after.size === before.size && after.mtimeMs === before.mtimeMs) {
      entries[filePath] = { size: after.size, mtimeMs: after.mtimeMs, sha256 };
      await this.store?.save(entries);
    }
    return sha256;
  }

  private async loaded(): Promise<Record<string, CacheEntry>> {
    if (!this.entries) this.entries = this.store ? await this.store.load() : {};
    return this.entries;
  }
}
