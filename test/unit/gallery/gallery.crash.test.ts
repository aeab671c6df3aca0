// Crash safety: the writer is killed with SIGKILL at random points of its save loop; on the next
// open no row lacks its file, no file is unaccounted for, and the database is intact. Readers in
// another process page consistently while the writer saves.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openGallery } from '../../../main/services/gallery/gallery.library.js';
import { useTempFolders } from '../support/temp.js';

const tempFolder = useTempFolders();
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const writerScript = path.join(here, 'crash-writer.ts');
const jiti = path.join(root, 'node_modules/jiti/lib/jiti-cli.mjs');

/** Starts the writer; resolves once it has opened the library (and swept it). */
function startWriter(folder: string, ...options: string[]): Promise<{ child: ChildProcess; saved: () => string[]; purging: () => string[] }> {
  const child = spawn(process.execPath, [jiti, writerScript, folder, ...options], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const saved: string[] = [];
  const purging: string[] = [];
  let stderr = '';
  let pending = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      const lines = (pending + d.toString()).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const [word, uid] = line.split(' ');
        if (word === 'saved' && uid) saved.push(uid);
        if (word === 'purging' && uid) purging.push(uid);
        if (word === 'ready') resolve({ child, saved: () => saved, purging: () => purging });
      }
    });
    child.on('exit', (code, signal) => reject(new Error(`writer exited early (${code ?? signal}): ${stderr.slice(-2000)}`)));
  });
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('gallery crash safety', () => {
  it('SIGKILL at random points of save and purge loops loses nothing, brings nothing back, leaves nothing unaccounted for', { timeout: 30_000 }, async () => {
    const folder = tempFolder();
    const saved: string[] = [];
    const purging: string[] = [];
    for (let round = 0; round < 3; round++) {
      const writer = await startWriter(folder, '--purge');
      await sleep(150 + Math.random() * 500);
      await killed(writer.child);
      saved.push(...writer.saved());
      purging.push(...writer.purging());
    }
    expect(saved.length).toBeGreaterThan(0);

    const g = await openGallery({ folder, check: 'full' });
    try {
      const every = (trashed: boolean) => {
        const rows = g.list({ limit: 500, trashed });
        let items = rows.items;
        let cursor = rows.nextCursor;
        while (cursor) {
          const page = g.list({ limit: 500, trashed, cursor });
          items = items.concat(page.items);
          cursor = page.nextCursor;
        }
        return items;
      };
      // A kill between the writer's trash and its purge's transaction leaves the image in the
      // trash, its file in images/: a row like any other, just not a live one.
      const live = every(false);
      const all = live.concat(every(true));
      // Every save the writer reported is there (committed saves survive a kill), unless a purge
      // of it had begun; no purged image is back (adopted from a file its purge left) ...
      const uids = new Set(all.map((i) => i.uid));
      const purged = new Set(purging);
      expect(saved.filter((u) => !purged.has(u) && !uids.has(u))).toEqual([]);
      const liveUids = new Set(live.map((i) => i.uid));
      expect(purging.filter((u) => liveUids.has(u))).toEqual([]);
      // ... every row has its file, and every file has its row.
      for (const image of all) expect(fs.existsSync(path.join(folder, image.file))).toBe(true);
      const files = fs.readdirSync(path.join(folder, 'images'), { recursive: true }).map(String).filter((f) => f.endsWith('.png'));
      expect(files.length).toBe(all.length);
      expect(fs.readdirSync(path.join(folder, 'tmp'))).toEqual([]);
      expect(fs.existsSync(path.join(folder, 'quarantine'))).toBe(false);
    } finally {
      g.close();
    }
    const db = new BetterSqlite3(path.join(folder, 'library.db'));
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    // FTS5's own check: throws if the index disagrees with its content.
    expect(() => db.prepare(`INSERT INTO images_fts (images_fts) VALUES ('integrity-check')`).run()).not.toThrow();
    db.close();
  });

  it('a reader pages consistently (no repeats, no gaps, in order) while a writer saves', { timeout: 30_000 }, async () => {
    const folder = tempFolder();
    const { child } = await startWriter(folder);
    try {
      await sleep(300);
      const reader = await openGallery({ folder, sweep: false });
      try {
        for (let walk = 0; walk < 5; walk++) {
          const before = reader.list({ limit: 500, order: 'asc' }).items.map((i) => i.uid);
          const seen: string[] = [];
          const stamps: number[] = [];
          let cursor: string | undefined;
          do {
            const page = reader.list({ limit: 3, order: 'asc', ...(cursor ? { cursor } : {}) });
            for (const image of page.items) {
              seen.push(image.uid);
              stamps.push(image.createdAt);
              expect(fs.existsSync(path.join(folder, image.file))).toBe(true);
            }
            cursor = page.nextCursor;
          } while (cursor);
          expect(new Set(seen).size).toBe(seen.length);
          expect(stamps).toEqual([...stamps].sort((a, b) => a - b));
          // No gaps: the walk saw everything that existed when it began (new rows land at the end).
          expect(before.length).toBeGreaterThan(0);
          expect(seen.slice(0, before.length)).toEqual(before);
          await sleep(50);
        }
      } finally {
        reader.close();
      }
    } finally {
      await killed(child);
    }
  });
});
