// SHA-256 in a worker thread, and the cache that skips files whose size and mtime are unchanged.
import { createHash, randomBytes } from 'node:crypto';
import { utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HashCache, HashError, sha256File } from '../../../main/services/models/hash';
import { useTempFolders } from '../support/temp';

const temp = useTempFolders();

describe('sha256File', () => {
  it('matches node:crypto on a multi-chunk file', async () => {
    const bytes = randomBytes((9 << 20) + 7); // more than two 4 MiB reads
    const file = path.join(temp(), 'a.bin');
    writeFileSync(file, bytes);
    expect(await sha256File(file)).toEqual({ sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length });
  });

  it('rejects a missing file with a typed error', async () => {
    await expect(sha256File(path.join(temp(), 'nope'))).rejects.toMatchObject({ name: 'HashError', code: 'ENOENT' });
    await expect(sha256File(path.join(temp(), 'nope'))).rejects.toBeInstanceOf(HashError);
  });
});

describe('HashCache', () => {
  it('reads a file once while its size and mtime stay the same, again after a change', async () => {
    const file = path.join(temp(), 'a.bin');
    writeFileSync(file, 'one');
    let saved: unknown = null;
    const cache = new HashCache({ load: async () => ({}), save: async (entries) => void (saved = structuredClone(entries)) });
    const first = await cache.sha256(file);
    expect(await cache.sha256(file)).toBe(first);
    expect(cache.hashedCount).toBe(1);
    expect(saved).toMatchObject({ [file]: { sha256: first, size: 3 } });

    writeFileSync(file, 'two');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    const second = await cache.sha256(file);
    expect(second).toBe(createHash('sha256').update('two').digest('hex'));
    expect(cache.hashedCount).toBe(2);
  });

  it('trusts entries loaded from its store (a restart hashes nothing)', async () => {
    const file = path.join(temp(), 'a.bin');
    writeFileSync(file, 'x');
    const first = new HashCache();
    const sha = await first.sha256(file);
    const { statSync } = await import('node:fs');
    const s = statSync(file);
    const restarted = new HashCache({ load: async () => ({ [file]: { size: s.size, mtimeMs: s.mtimeMs, sha256: sha } }), save: async () => {} });
    expect(await restarted.sha256(file)).toBe(sha);
    expect(restarted.hashedCount).toBe(0);
  });
});
