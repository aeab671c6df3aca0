// The generation queue's tables (main/services/jobs/store.sqlite.ts). Jobs live in the library
// database so that a crash or a restart loses no queued work, and so that a finished job and its
// gallery images are written by the same database.
import type { Database } from 'better-sqlite3';
import type { Migration } from '../migration.js';

export const jobs002: Migration = {
  version: 2,
  name: 'jobs',
  up(db: Database) {
    db.exec(`
      CREATE TABLE jobs (
        id            TEXT PRIMARY KEY,                -- uuid
        status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
        recipe_json   TEXT NOT NULL,                   -- api/jobs.ts jobRecipeSchema
        count         INTEGER NOT NULL CHECK (count >= 1),
        position      REAL NOT NULL,                   -- run order among queued jobs; moves take midpoints
        attempts      INTEGER NOT NULL DEFAULT 0,
        created_at    INTEGER NOT NULL,                -- ms since the epoch
        started_at    INTEGER,
        finished_at   INTEGER,
        error_code    TEXT,
        error_message TEXT,
        image_ids     TEXT NOT NULL DEFAULT '[]'       -- JSON array of gallery ids
      );
      -- The dequeue reads the first queued job by position: a partial index keeps it O(log n).
      CREATE INDEX jobs_queued ON jobs (position) WHERE status = 'queued';
      CREATE INDEX jobs_finished ON jobs (finished_at) WHERE status IN ('done', 'failed', 'cancelled');
      CREATE TABLE queue_state (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
      INSERT INTO queue_state (key, value) VALUES ('paused', '0');
    `);
  },
  sample(db: Database) {
    db.prepare(
      `INSERT INTO jobs (id, status, recipe_json, count, position, created_at) VALUES ('sample-job', 'queued', ?, 2, 1, 0)`,
    ).run(JSON.stringify({ prompt: 'a fox', negativePrompt: '', model: '/m.json' }));
  },
  verifySample(db: Database) {
    // The gallery's migration test samples later migrations only on a fresh database, so the
    // row may be absent; when present it must be intact, and the queue's tables always exist.
    const row = db.prepare(`SELECT status, count FROM jobs WHERE id = 'sample-job'`).get() as { status: string; count: number } | undefined;
    if (row && (row.status !== 'queued' || row.count !== 2)) throw new Error('the sample job did not survive');
    const paused = db.prepare(`SELECT value FROM queue_state WHERE key = 'paused'`).get();
    if (!paused) throw new Error('queue_state has no paused row');
  },
};
