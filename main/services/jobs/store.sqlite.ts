// The JobStore in the library database (migration 002-jobs). Every change is one statement or
// one IMMEDIATE transaction, so a crash leaves each job in exactly one state, and a second
// process (the CLI) cannot claim the same job.
import { randomUUID } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import { jobRecipeSchema } from '../../api/jobs.js';
import { JobsError, type Job, type JobError, type JobRecipe, type JobStore, type ListOptions } from './jobs.js';

interface Row {
  id: string;
  status: Job['status'];
  recipe_json: string;
  count: number;
  position: number;
  attempts: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  error_code: string | null;
  error_message: string | null;
  image_ids: string;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function toJob(r: Row): Job {
  const ids: unknown = JSON.parse(r.image_ids);
  return {
    id: r.id,
    status: r.status,
    // Parsed, not cast: a row written by another version still yields a valid recipe or a clear error.
    recipe: jobRecipeSchema.parse(JSON.parse(r.recipe_json)),
    count: r.count,
    position: r.position,
    attempts: r.attempts,
    createdAt: iso(r.created_at)!,
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
    error: r.error_code === null ? null : { code: r.error_code, message: r.error_message ?? '' },
    imageIds: Array.isArray(ids) ? ids.map(String) : [],
  };
}

export function createSqliteJobStore(db: Database): JobStore {
  const st = {
    insert: db.prepare(
      `INSERT INTO jobs (id, status, recipe_json, count, position, created_at)
       VALUES (?, 'queued', ?, ?, (SELECT COALESCE(MAX(position), 0) + 1 FROM jobs), ?) RETURNING *`,
    ),
    get: db.prepare(`SELECT * FROM jobs WHERE id = ?`),
    first: db.prepare(`SELECT id FROM jobs WHERE status = 'queued' ORDER BY position LIMIT 1`),
    claim: db.prepare(
      `UPDATE jobs SET status = 'running', attempts = attempts + 1, started_at = ? WHERE id = ? AND status = 'queued' RETURNING *`,
    ),
    setRecipe: db.prepare(`UPDATE jobs SET recipe_json = ? WHERE id = ?`),
    finish: db.prepare(
      `UPDATE jobs SET status = ?, error_code = ?, error_message = ?, image_ids = ?, finished_at = ? WHERE id = ? RETURNING *`,
    ),
    requeueEnd: db.prepare(
      `UPDATE jobs SET status = 'queued', error_code = NULL, error_message = NULL, finished_at = NULL,
       position = (SELECT COALESCE(MAX(position), 0) + 1 FROM jobs) WHERE id = ? RETURNING *`,
    ),
    requeueFront: db.prepare(
      `UPDATE jobs SET status = 'queued', error_code = NULL, error_message = NULL, finished_at = NULL,
       position = (SELECT COALESCE(MIN(position), 1) - 1 FROM jobs WHERE status = 'queued') WHERE id = ? RETURNING *`,
    ),
    prevQueued: db.prepare(`SELECT position FROM jobs WHERE status = 'queued' AND position < ? AND id <> ? ORDER BY position DESC LIMIT 1`),
    setPosition: db.prepare(`UPDATE jobs SET position = ? WHERE id = ? RETURNING *`),
    interrupted: db.prepare(`UPDATE jobs SET status = 'queued' WHERE status = 'running'`),
    paused: db.prepare(`SELECT value FROM queue_state WHERE key = 'paused'`),
    setPaused: db.prepare(`INSERT INTO queue_state (key, value) VALUES ('paused', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`),
  };

  const row = (id: string): Row => {
    const r = st.get.get(id) as Row | undefined;
    if (!r) throw new JobsError('NOT_FOUND', `no job ${id}`);
    return r;
  };

  const claimNext = db.transaction((now: number): Row | undefined => {
    const first = st.first.get() as { id: string } | undefined;
    return first ? (st.claim.get(now, first.id) as Row) : undefined;
  });

  const move = db.transaction((id: string, before: string | null): Row => {
    const j = row(id);
    if (j.status !== 'queued') throw new JobsError('CONFLICT', `job ${id} is ${j.status}, only queued jobs move`);
    if (before === null) return st.requeueEnd.get(id) as Row;
    if (before === id) return j;
    const target = row(before);
    if (target.status !== 'queued') throw new JobsError('CONFLICT', `job ${before} is ${target.status}, not queued`);
    const prev = st.prevQueued.get(target.position, id) as { position: number } | undefined;
    return st.setPosition.get(((prev?.position ?? target.position - 1) + target.position) / 2, id) as Row;
  });

  return {
    insert(recipe: JobRecipe, count: number, now: string) {
      return toJob(st.insert.get(randomUUID(), JSON.stringify(recipe), count, Date.parse(now)) as Row);
    },
    get(id) {
      const r = st.get.get(id) as Row | undefined;
      return r && toJob(r);
    },
    list(options: ListOptions = {}) {
      const statuses = options.statuses ?? ['running', 'queued', 'done', 'failed', 'cancelled'];
      const where = statuses.map(() => '?').join(', ');
      const rows = db
        .prepare(
          `SELECT * FROM jobs WHERE status IN (${where})
           ORDER BY CASE status WHEN 'running' THEN 0 WHEN 'queued' THEN 1 ELSE 2 END,
                    CASE WHEN status = 'queued' THEN position END,
                    finished_at DESC, created_at DESC
           LIMIT ?`,
        )
        .all(...statuses, options.limit ?? -1) as Row[];
      return rows.map(toJob);
    },
    claimNext(now: string) {
      const r = claimNext.immediate(Date.parse(now));
      return r && toJob(r);
    },
    setSeed(id, seed) {
      const j = toJob(row(id));
      st.setRecipe.run(JSON.stringify({ ...j.recipe, seed }), id);
    },
    finish(id, status, result: { error?: JobError; imageIds?: string[] }, now) {
      row(id);
      const r = st.finish.get(
        status,
        result.error?.code ?? null,
        result.error?.message ?? null,
        JSON.stringify(result.imageIds ?? []),
        Date.parse(now),
        id,
      ) as Row;
      return toJob(r);
    },
    requeue(id, where) {
      row(id);
      return toJob((where === 'front' ? st.requeueFront : st.requeueEnd).get(id) as Row);
    },
    move(id, before) {
      return toJob(move.immediate(id, before));
    },
    requeueInterrupted() {
      return st.interrupted.run().changes;
    },
    paused() {
      return (st.paused.get() as { value: string } | undefined)?.value === '1';
    },
    setPaused(p) {
      st.setPaused.run(p ? '1' : '0');
    },
  };
}
