// A JobStore in memory: for tests of the processor and for runs without a library database.
// Same semantics as the SQLite store (store.sqlite.ts), which is what the studio persists with.
import { randomUUID } from 'node:crypto';
import { JobsError, type Job, type JobError, type JobRecipe, type JobStore, type ListOptions } from './jobs.js';

export function createMemoryJobStore(): JobStore {
  const jobs = new Map<string, Job>();
  let paused = false;
  let lastPosition = 0;

  const must = (id: string): Job => {
    const job = jobs.get(id);
    if (!job) throw new JobsError('NOT_FOUND', `no job ${id}`);
    return job;
  };
  const queued = () => [...jobs.values()].filter((j) => j.status === 'queued').sort((a, b) => a.position - b.position);
  const copy = (j: Job): Job => structuredClone(j);

  return {
    insert(recipe: JobRecipe, count: number, now: string) {
      const job: Job = {
        id: randomUUID(),
        status: 'queued',
        recipe: structuredClone(recipe),
        count,
        position: ++lastPosition,
        attempts: 0,
        createdAt: now,
        startedAt: null,
        finishedAt: null,
        error: null,
        imageIds: [],
      };
      jobs.set(job.id, job);
      return copy(job);
    },
    get: (id) => {
      const j = jobs.get(id);
      return j && copy(j);
    },
    list(options: ListOptions = {}) {
      const all0 = [...jobs.values()];
      const running = all0.filter((j) => j.status === 'running');
      const rest = all0.filter((j) => j.status !== 'queued' && j.status !== 'running').reverse();
      let all = [...running, ...queued(), ...rest];
      if (options.statuses) all = all.filter((j) => options.statuses!.includes(j.status));
      return all.slice(0, options.limit ?? all.length).map(copy);
    },
    claimNext(now: string) {
      const next = queued()[0];
      if (!next) return undefined;
      next.status = 'running';
      next.attempts++;
      next.startedAt = now;
      return copy(next);
    },
    setSeed(id, seed) {
      must(id).recipe.seed = seed;
    },
    finish(id, status, result: { error?: JobError; imageIds?: string[] }, now) {
      const j = must(id);
      j.status = status;
      j.error = result.error ?? null;
      j.imageIds = result.imageIds ?? [];
      j.finishedAt = now;
      return copy(j);
    },
    requeue(id, where) {
      const j = must(id);
      if (where === 'front') j.position = (queued()[0]?.position ?? lastPosition + 1) - 1;
      else j.position = ++lastPosition;
      j.status = 'queued';
      j.error = null;
      j.finishedAt = null;
      return copy(j);
    },
    move(id, before) {
      const j = must(id);
      if (j.status !== 'queued') throw new JobsError('CONFLICT', `job ${id} is ${j.status}, only queued jobs move`);
      if (before === null) {
        j.position = ++lastPosition;
        return copy(j);
      }
      if (before === id) return copy(j);
      const target = must(before);
      if (target.status !== 'queued') throw new JobsError('CONFLICT', `job ${before} is ${target.status}, not queued`);
      const q = queued().filter((x) => x.id !== id);
      const i = q.findIndex((x) => x.id === before);
      const prev = i > 0 ? q[i - 1]!.position : target.position - 1;
      j.position = (prev + target.position) / 2;
      return copy(j);
    },
    requeueInterrupted() {
      let n = 0;
      for (const j of jobs.values()) {
        if (j.status === 'running') {
          j.status = 'queued';
          n++;
        }
      }
      return n;
    },
    paused: () => paused,
    setPaused(p) {
      paused = p;
    },
  };
}
