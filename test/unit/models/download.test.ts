// downloadFile against a real HTTP server on 127.0.0.1 that misbehaves on purpose: dropped
// connections, short bodies, wrong bytes, lying sizes, ignored ranges, a slow body to cancel.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DownloadError, downloadFile, type DownloadProgress } from '../../../main/services/models/download';
import { useTempFolders } from '../support/temp';

const BODY = randomBytes(256 * 1024 + 123);
const SHA = createHash('sha256').update(BODY).digest('hex');

type Behaviour = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;

interface Fixture {
  url: string;
  requests: { range: string | undefined }[];
  close(): Promise<void>;
}

const servers: Fixture[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

/** Serves `body` honouring Range, the way a well-behaved CDN does. */
function serveRange(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer = BODY): void {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (!m) {
    res.writeHead(200, { 'Content-Length': body.length });
    res.end(body);
    return;
  }
  const start = Number(m[1]);
  if (start >= body.length) {
    res.writeHead(416, { 'Content-Range': `bytes */${body.length}` });
    res.end();
    return;
  }
  res.writeHead(206, { 'Content-Length': body.length - start, 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` });
  res.end(body.subarray(start));
}

async function server(behaviour: Behaviour): Promise<Fixture> {
  const requests: Fixture['requests'] = [];
  const srv = http.createServer((req, res) => {
    requests.push({ range: req.headers.range });
    behaviour(req, res, requests.length);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  const fixture: Fixture = {
    url: `http://127.0.0.1:${port}/ckpts/model.safetensors`,
    requests,
    close: () =>
      new Promise((resolve) => {
        srv.closeAllConnections();
        srv.close(() => resolve());
      }),
  };
  servers.push(fixture);
  return fixture;
}

const temp = useTempFolders();
const fast = { retryDelayMs: 5, freeSpace: async () => ({ freeBytes: 1e12 }) };

async function failure(promise: Promise<unknown>): Promise<DownloadError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DownloadError) return error;
    throw error;
  }
  throw new Error('expected the download to fail');
}

describe('downloadFile', () => {
  it('downloads, verifies and renames; progress ends at the total with a speed', async () => {
    const s = await server((req, res) => serveRange(req, res));
    const dest = path.join(temp(), 'm', 'model.safetensors');
    const seen: DownloadProgress[] = [];
    const got = await downloadFile({ url: s.url, dest, sha256: SHA, size: BODY.length, onProgress: (p) => seen.push(p), ...fast });
    expect(got).toEqual({ path: dest, bytes: BODY.length, sha256: SHA });
    expect(readFileSync(dest).equals(BODY)).toBe(true);
    expect(existsSync(`${dest}.part`)).toBe(false);
    const last = seen[seen.length - 1]!;
    expect(last.receivedBytes).toBe(BODY.length);
    expect(last.totalBytes).toBe(BODY.length);
  });

  it('resumes with Range after the connection drops mid-body', async () => {
    const s = await server((req, res, n) => {
      if (n === 1) {
        res.writeHead(200, { 'Content-Length': BODY.length });
        res.write(BODY.subarray(0, 100_000), () => res.socket?.destroy());
        return;
      }
      serveRange(req, res);
    });
    const dest = path.join(temp(), 'model.safetensors');
    await downloadFile({ url: s.url, dest, sha256: SHA, size: BODY.length, ...fast });
    expect(readFileSync(dest).equals(BODY)).toBe(true);
    expect(s.requests).toHaveLength(2);
    expect(s.requests[1]!.range).toMatch(/^bytes=\d+-$/);
    // What reached the disk before the drop: at least the first chunk, at most what was sent.
    const from = Number(/\d+/.exec(s.requests[1]!.range!)![0]);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(100_000);
  });

  it('keeps a truncated body for a later call, which resumes it', async () => {
    let truncate = true;
    const s = await server((req, res) => {
      if (truncate) {
        // No Content-Length (chunked): the body "ends cleanly" at half the file.
        res.writeHead(200);
        res.end(BODY.subarray(0, 50_000));
        return;
      }
      serveRange(req, res);
    });
    const dest = path.join(temp(), 'model.safetensors');
    const error = await failure(downloadFile({ url: s.url, dest, sha256: SHA, size: BODY.length, maxAttempts: 1, ...fast }));
    expect(error.code).toBe('E_TRUNCATED');
    expect(existsSync(dest)).toBe(false);
    expect(statSync(`${dest}.part`).size).toBe(50_000);
    truncate = false;
    await downloadFile({ url: s.url, dest, sha256: SHA, size: BODY.length, ...fast });
    expect(s.requests[s.requests.length - 1]!.range).toBe('bytes=50000-');
    expect(readFileSync(dest).equals(BODY)).toBe(true);
  });

  it('deletes a corrupted download: nothing appears at dest', async () => {
    const bad = Buffer.from(BODY);
    bad[1000] = bad[1000]! ^ 0xff;
    const s = await server((req, res) => serveRange(req, res, bad));
    const dest = path.join(temp(), 'model.safetensors');
    const error = await failure(downloadFile({ url: s.url, dest, sha256: SHA, size: BODY.length, ...fast }));
    expect(error.code).toBe('E_HASH_MISMATCH');
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('restarts from zero when the server ignores Range', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, { 'Content-Length': BODY.length });
      res.end(BODY);
    });
    const dest = path.join(temp(), 'model.safetensors');
    // A valid prefix from an earlier run.
    writeFileSync(`${dest}.part`, BODY.subarray(0, 1000));
    writeFileSync(`${dest}.part.json`, JSON.stringify({ url: s.url, sha256: SHA, size: BODY.length }));
    await downloadFile({ url: s.url, dest, sha256: SHA, size: BODY.length, ...fast });
    expect(s.requests[0]!.range).toBe('bytes=1000-');
    expect(readFileSync(dest).equals(BODY)).toBe(true);
  });

  it('refuses a server whose size disagrees with the catalogue, keeping nothing', async () => {
    const s = await server((req, res) => serveRange(req, res, Buffer.concat([BODY, Buffer.alloc(10)])));
    const dest = path.join(temp(), 'model.safetensors');
    const error = await failure(downloadFile({ url: s.url, dest, sha256: SHA, size: BODY.length, ...fast }));
    expect(error.code).toBe('E_SIZE_MISMATCH');
    expect(existsSync(dest)).toBe(false);
  });

  it('stops a body that runs past the catalogued size (no Content-Length)', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200);
      res.end(Buffer.concat([BODY, Buffer.alloc(5000)]));
    });
    const dest = path.join(temp(), 'model.safetensors');
    const error = await failure(downloadFile({ url: s.url, dest, sha256: SHA, size: BODY.length, ...fast }));
    expect(error.code).toBe('E_SIZE_MISMATCH');
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('without a catalogued size, treats a Content-Length longer than the body as a drop, and resumes', async () => {
    const s = await server((req, res, n) => {
      if (n === 1) {
        res.writeHead(200, { 'Content-Length': BODY.length + 4096 });
        res.write(BODY.subarray(0, 70_000), () => res.socket?.end());
        return;
      }
      serveRange(req, res);
    });
    const dest = path.join(temp(), 'model.safetensors');
    await downloadFile({ url: s.url, dest, sha256: SHA, ...fast });
    expect(readFileSync(dest).equals(BODY)).toBe(true);
    // It resumes from what reached the disk before the close (a prefix of what was sent; it
    // may be empty when the close arrives before the first write).
    expect(s.requests).toHaveLength(2);
    const from = Number(/^bytes=(\d+)-$/.exec(s.requests[1]!.range ?? 'bytes=0-')?.[1]);
    expect(from).toBeLessThanOrEqual(70_000);
  });

  it('checks free space before asking the server for anything', async () => {
    const s = await server((req, res) => serveRange(req, res));
    const dest = path.join(temp(), 'model.safetensors');
    const error = await failure(
      downloadFile({ url: s.url, dest, sha256: SHA, size: BODY.length, retryDelayMs: 5, freeSpace: async () => ({ freeBytes: 4096 }) }),
    );
    expect(error.code).toBe('E_NO_SPACE');
    expect(s.requests).toHaveLength(0);
    expect(existsSync(dest)).toBe(false);
  });

  it('cancels mid-body, keeps the prefix, and a later call resumes it', async () => {
    let slow = true;
    const s = await server((req, res) => {
      if (!slow) return serveRange(req, res);
      res.writeHead(200, { 'Content-Length': BODY.length });
      res.write(BODY.subarray(0, 30_000)); // then stall
    });
    const dest = path.join(temp(), 'model.safetensors');
    const controller = new AbortController();
    const pending = downloadFile({
      url: s.url,
      dest,
      sha256: SHA,
      size: BODY.length,
      signal: controller.signal,
      progressIntervalMs: 0,
      onProgress: (p) => {
        if (p.receivedBytes >= 30_000) controller.abort();
      },
      ...fast,
    });
    const error = await failure(pending);
    expect(error.code).toBe('E_CANCELLED');
    expect(existsSync(dest)).toBe(false);
    // Progress counts bytes on disk, so the cancel at 30,000 received leaves exactly those.
    expect(statSync(`${dest}.part`).size).toBe(30_000);
    slow = false;
    await downloadFile({ url: s.url, dest, sha256: SHA, size: BODY.length, ...fast });
    expect(s.requests[s.requests.length - 1]!.range).toBe('bytes=30000-');
    expect(readFileSync(dest).equals(BODY)).toBe(true);
  });

  it('answers a 404 with E_HTTP without retrying', async () => {
    const s = await server((_req, res) => {
      res.writeHead(404);
      res.end();
    });
    const error = await failure(downloadFile({ url: s.url, dest: path.join(temp(), 'x'), sha256: SHA, ...fast }));
    expect(error.code).toBe('E_HTTP');
    expect(s.requests).toHaveLength(1);
  });
});
