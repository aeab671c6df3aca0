// One file from a URL to a path, the way a 10 GB checkpoint must arrive over a home connection:
// resumable (HTTP Range from the bytes already on disk), checked for free space before the
// first byte, cancellable, SHA-256 verified, and atomic: bytes land in `<dest>.part` and only a
// complete, verified file is renamed to `dest`. A `.part` kept after an interruption or a
// cancel holds a valid prefix of the body (appends are sequential), so the next call resumes it;
// a `.part` that fails verification is deleted, since there is no telling which bytes are bad.
import { mkdir, open, readFile, rename, rm, stat, statfs, truncate, writeFile, type FileHandle } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { sha256File } from './hash.js';

export type DownloadErrorCode =
  /** Connection refused, reset or dropped mid-body; the `.part` is kept for a resume. */
  | 'E_NETWORK'
  /** The server answered with an error status (404, 403, 5xx after retries). */
  | 'E_HTTP'
  /** The body ended before its declared or catalogued size; the `.part` is kept. */
  | 'E_TRUNCATED'
  /** More bytes than the catalogue says the file has; the `.part` is deleted. */
  | 'E_SIZE_MISMATCH'
  /** The finished file's SHA-256 is not the catalogued one; the `.part` is deleted. */
  | 'E_HASH_MISMATCH'
  /** Not enough free space on the models folder's disk; nothing was requested. */
  | 'E_NO_SPACE'
  | 'E_CANCELLED'
  /** Reading or writing the local file failed. */
  | 'E_IO';

export class DownloadError extends Error {
  override readonly name = 'DownloadError';
  constructor(
    readonly code: DownloadErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface DownloadProgress {
  url: string;
  /** Bytes on disk, including those kept from an earlier attempt. */
  receivedBytes: number;
  /** Null while neither the catalogue nor the server has said. */
  totalBytes: number | null;
  /** Over the last few seconds of this attempt; 0 before the first sample. */
  bytesPerSecond: number;
  /** Null when the total or the speed is unknown. */
  etaSeconds: number | null;
}

export interface FreeSpace {
  /** Bytes an unprivileged process may still write. */
  freeBytes: number;
}

export type FreeSpaceProbe = (folder: string) => Promise<FreeSpace>;

/** fs.statfs of the folder: blocks available to non-root times the block size. */
export const statfsProbe: FreeSpaceProbe = async (folder) => {
  const s = await statfs(folder);
  return { freeBytes: Number(s.bavail) * Number(s.bsize) };
};

export interface DownloadFileOptions {
  url: string;
  /** Final path; it appears only once the file is complete and verified. */
  dest: string;
  /** Lower-case hex; null: no pinned hash (the computed one is returned for the manifest). */
  sha256: string | null;
  /** Catalogued size in bytes, when known: checked against the server's and the result. */
  size?: number | null;
  signal?: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
  /** Injectable for tests (a full disk); default fs.statfs. */
  freeSpace?: FreeSpaceProbe;
  /** Attempts in one call, resuming each from the bytes already on disk; default 4. */
  maxAttempts?: number;
  /** Wait before attempt k (k >= 2) is retryDelayMs * (k - 1); default 500 ms. */
  retryDelayMs?: number;
  /** A stalled connection counts as dropped after this long without a byte; default 30 s. */
  idleTimeoutMs?: number;
  /** Bytes kept free beyond the file itself (the OS, the hash cache); default 64 MiB. */
  reserveBytes?: number;
  /** Minimum interval between progress callbacks; default 250 ms. */
  progressIntervalMs?: number;
}

export interface DownloadedFile {
  path: string;
  bytes: number;
  sha256: string;
}

/** What we remember beside a `.part` so a resume never stitches two different files. */
interface PartMeta {
  url: string;
  sha256: string | null;
  size: number | null;
}

const RETRYABLE = new Set<DownloadErrorCode>(['E_NETWORK', 'E_TRUNCATED']);

function isPartMeta(value: unknown): value is PartMeta {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.url === 'string' && (v.sha256 === null || typeof v.sha256 === 'string') && (v.size === null || typeof v.size === 'number');
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

function abortError(): DownloadError {
  return new DownloadError('E_CANCELLED', 'download cancelled');
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `bytes a-b/total` -> numbers; null when malformed. `total` may be `*`. */
export function parseContentRange(header: string | undefined): { start: number; end: number; total: number | null } | null {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header?.trim() ?? '');
  if (!m) return null;
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) return null;
  return { start, end, total: m[3] === '*' ? null : Number(m[3]) };
}

/** Speed over a sliding window of samples, so one burst or stall does not swing the ETA. */
class SpeedMeter {
  private samples: { t: number; bytes: number }[] = [];
  constructor(private readonly windowMs = 5000) {}
  add(t: number, bytes: number): void {
    this.samples.push({ t, bytes });
    while (this.samples.length > 2 && t - this.samples[0]!.t > this.windowMs) this.samples.shift();
  }
  bytesPerSecond(): number {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.t <= first.t) return 0;
    return ((last.bytes - first.bytes) * 1000) / (last.t - first.t);
  }
}

interface AttemptContext {
  options: DownloadFileOptions;
  part: string;
  expectedSize: number | null;
  /** Set once a server has told us the total. */
  total: number | null;
}

function get(url: URL, headers: Record<string, string>): http.ClientRequest {
  const lib = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null;
  if (!lib) throw new DownloadError('E_HTTP', `unsupported URL scheme ${url.protocol}`);
  return lib.request(url, { method: 'GET', headers });
}

async function checkSpace(ctx: AttemptContext, needed: number): Promise<void> {
  const probe = ctx.options.freeSpace ?? statfsProbe;
  const reserve = ctx.options.reserveBytes ?? 64 * 1024 * 1024;
  const { freeBytes } = await probe(path.dirname(ctx.part));
  if (freeBytes < needed + reserve) {
    throw new DownloadError(
      'E_NO_SPACE',
      `not enough free space for ${path.basename(ctx.options.dest)}: ${needed} bytes needed (+${reserve} reserve), ${freeBytes} free`,
    );
  }
}

/**
 * One request: from the current `.part` size to the end (or until the connection drops).
 * Resolves when the body ended; rejects with a DownloadError.
 */
async function attempt(ctx: AttemptContext, href = ctx.options.url, redirects = 0): Promise<void> {
  const { options, part } = ctx;
  const signal = options.signal;
  if (signal?.aborted) throw abortError();
  let from = await fileSize(part);
  if (ctx.expectedSize !== null && from === ctx.expectedSize) return; // already complete
  if (ctx.expectedSize !== null && from > ctx.expectedSize) {
    await rm(part, { force: true });
    from = 0;
  }
  const url = new URL(href);
  const headers: Record<string, string> = { 'Accept-Encoding': 'identity' };
  if (from > 0) headers.Range = `bytes=${from}-`;

  const req = get(url, headers);
  const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const onAbort = (): void => {
      req.destroy();
      reject(abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    req.setTimeout(options.idleTimeoutMs ?? 30_000, () => req.destroy(new Error('no answer (timeout)')));
    req.once('response', (res) => {
      signal?.removeEventListener('abort', onAbort);
      resolve(res);
    });
    req.once('error', (error) => {
      signal?.removeEventListener('abort', onAbort);
      reject(signal?.aborted ? abortError() : new DownloadError('E_NETWORK', `${url.host}: ${error.message}`));
    });
    req.end();
  });

  const status = response.statusCode ?? 0;
  if (status >= 300 && status < 400 && response.headers.location) {
    response.resume();
    if (redirects >= 5) throw new DownloadError('E_HTTP', `too many redirects from ${options.url}`);
    // Hugging Face answers with a redirect to its CDN; the next hop keeps the same part file.
    const next = new URL(response.headers.location, url).toString();
    return attempt(ctx, next, redirects + 1);
  }
  if (status === 416 && from > 0) {
    // Nothing left past `from`: either the part is complete (checked by size/hash later) or
    // the remote file shrank. Without a catalogued size we cannot tell, so start over.
    response.resume();
    const total = parseContentRange(response.headers['content-range']?.replace('*', '0-0'))?.total ?? null;
    if (total !== null && total === from) {
      ctx.total = total;
      return;
    }
    await rm(part, { force: true });
    throw new DownloadError('E_TRUNCATED', 'the server refused the resume range; starting over');
  }
  if (status !== 200 && status !== 206) {
    response.resume();
    const code: DownloadErrorCode = 'E_HTTP';
    const error = new DownloadError(code, `${options.url}: HTTP ${status}`);
    // 5xx and 429 are worth retrying; 4xx (missing file, no access) are not.
    if (status >= 500 || status === 429) throw Object.assign(error, { retryable: true });
    throw error;
  }

  const declaredLength = response.headers['content-length'] !== undefined ? Number(response.headers['content-length']) : null;
  let start = from;
  if (status === 200) {
    // A full body: the server ignored our Range (or we sent none). Start the part over.
    if (from > 0) await truncate(part, 0);
    start = 0;
    if (declaredLength !== null && Number.isFinite(declaredLength)) ctx.total = declaredLength;
  } else {
    const range = parseContentRange(response.headers['content-range']);
    if (!range || range.start !== from) {
      response.resume();
      await rm(part, { force: true });
      throw new DownloadError('E_TRUNCATED', `the server answered range ${response.headers['content-range'] ?? '(none)'} for bytes=${from}-; starting over`);
    }
    if (range.total !== null) ctx.total = range.total;
  }
  if (ctx.expectedSize !== null && ctx.total !== null && ctx.total !== ctx.expectedSize) {
    response.resume();
    throw new DownloadError('E_SIZE_MISMATCH', `${options.url} is ${ctx.total} bytes on the server, the catalogue says ${ctx.expectedSize}`);
  }
  const total = ctx.expectedSize ?? ctx.total;
  if (total !== null) await checkSpace(ctx, total - start);

  let received = start;
  const meter = new SpeedMeter();
  const t0 = Date.now();
  meter.add(t0, received);
  let lastReport = 0;
  const report = (force: boolean): void => {
    const now = Date.now();
    meter.add(now, received);
    if (!options.onProgress || (!force && now - lastReport < (options.progressIntervalMs ?? 250))) return;
    lastReport = now;
    const speed = meter.bytesPerSecond();
    options.onProgress({
      url: options.url,
      receivedBytes: received,
      totalBytes: total,
      bytesPerSecond: speed,
      etaSeconds: total !== null && speed > 0 ? Math.max(0, total - received) / speed : null,
    });
  };
  report(true);
  response.setTimeout?.(options.idleTimeoutMs ?? 30_000, () => response.destroy(new Error('connection stalled')));
  const onAbort = (): void => {
    response.destroy(abortError());
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  // Each chunk is written (awaited) before the next is read and before it is counted, so
  // `received` is always the size of the `.part` on disk: a drop or a cancel at any moment
  // leaves exactly the counted prefix, which the next attempt resumes. (A stream pipeline
  // would destroy its file stream on the source's error, discarding chunks still buffered or
  // waiting for the file to open.)
  let file: FileHandle | null = null;
  try {
    file = await open(part, start === 0 ? 'w' : 'a');
    for await (const chunk of response as AsyncIterable<Buffer>) {
      if (total !== null && received + chunk.length > total) {
        throw new DownloadError('E_SIZE_MISMATCH', `${options.url} sent more than ${total} bytes`);
      }
      await file.write(chunk);
      received += chunk.length;
      report(false);
    }
  } catch (error) {
    response.destroy();
    // Closed before any rm below: Windows cannot delete an open file.
    await file?.close();
    file = null;
    if (signal?.aborted) throw abortError();
    if (error instanceof DownloadError) {
      if (error.code === 'E_SIZE_MISMATCH') await rm(part, { force: true });
      throw error;
    }
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && ['ENOSPC', 'EACCES', 'EROFS', 'EIO', 'EDQUOT'].includes(code)) {
      throw new DownloadError(code === 'ENOSPC' || code === 'EDQUOT' ? 'E_NO_SPACE' : 'E_IO', `writing ${part}: ${(error as Error).message}`);
    }
    throw new DownloadError('E_NETWORK', `${url.host}: connection dropped after ${received} bytes (${(error as Error).message})`);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await file?.close();
    report(true);
  }
  // Node checks Content-Length itself, but a chunked body or a `Connection: close` body has
  // none: a body shorter than the size we know is a truncation, kept for a resume.
  if (declaredLength !== null && received - start < declaredLength) {
    throw new DownloadError('E_TRUNCATED', `${options.url}: body ended after ${received - start} of ${declaredLength} declared bytes`);
  }
  if (total !== null && received < total) {
    throw new DownloadError('E_TRUNCATED', `${options.url}: body ended at ${received} of ${total} bytes`);
  }
}

async function readMeta(file: string): Promise<PartMeta | null> {
  try {
    const value: unknown = JSON.parse(await readFile(file, 'utf8'));
    return isPartMeta(value) ? value : null;
  } catch {
    return null;
  }
}

/** Downloads `url` to `dest` (see the file comment); resolves with the verified file. */
export async function downloadFile(options: DownloadFileOptions): Promise<DownloadedFile> {
  const part = `${options.dest}.part`;
  const metaPath = `${part}.json`;
  await mkdir(path.dirname(options.dest), { recursive: true });
  const meta: PartMeta = { url: options.url, sha256: options.sha256, size: options.size ?? null };
  const previous = await readMeta(metaPath);
  if (!previous || previous.url !== meta.url || previous.sha256 !== meta.sha256 || previous.size !== meta.size) {
    // A part from another URL or version cannot be resumed.
    await rm(part, { force: true });
  }
  await writeFile(metaPath, JSON.stringify(meta));

  const ctx: AttemptContext = { options, part, expectedSize: options.size ?? null, total: null };
  // Check space before any request when the catalogue knows the size.
  if (ctx.expectedSize !== null) await checkSpace(ctx, Math.max(0, ctx.expectedSize - (await fileSize(part))));

  const maxAttempts = Math.max(1, options.maxAttempts ?? 4);
  for (let k = 1; ; k++) {
    try {
      await attempt(ctx);
      break;
    } catch (error) {
      const retryable =
        error instanceof DownloadError && (RETRYABLE.has(error.code) || (error as { retryable?: boolean }).retryable === true);
      if (!retryable || k >= maxAttempts) {
        if (error instanceof DownloadError) throw error;
        throw new DownloadError('E_IO', (error as Error).message);
      }
      await sleep((options.retryDelayMs ?? 500) * k, options.signal);
    }
  }

  const bytes = await fileSize(part);
  const expected = ctx.expectedSize ?? ctx.total;
  if (expected !== null && bytes !== expected) {
    await rm(part, { force: true });
    throw new DownloadError('E_SIZE_MISMATCH', `${options.url}: got ${bytes} bytes, expected ${expected}`);
  }
  if (options.signal?.aborted) throw abortError();
  const { sha256 } = await sha256File(part);
  if (options.sha256 !== null && sha256 !== options.sha256.toLowerCase()) {
    await rm(part, { force: true });
    await rm(metaPath, { force: true });
    throw new DownloadError('E_HASH_MISMATCH', `${options.url}: SHA-256 ${sha256}, expected ${options.sha256}; the download was deleted`);
  }
  await rename(part, options.dest);
  await rm(metaPath, { force: true });
  return { path: options.dest, bytes, sha256 };
}
