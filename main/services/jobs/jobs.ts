// The persistent job queue: records (JobStore, one implementation per mechanism) apart from the
// processor loop that runs them (processor.ts), as in InvokeAI's session queue. `claimNext` is
// the only way a job becomes running, and it is atomic, so no job runs twice.
import type { Job, JobRecipe, JobStatus } from '../../api/jobs.js';

export type { Job, JobRecipe, JobStatus };

export interface JobError {
  code: string;
  message: string;
}

export interface ListOptions {
  statuses?: readonly JobStatus[];
  limit?: number;
}

export interface JobStore {
  insert(recipe: JobRecipe, count: number, now: string): Job;
  get(id: string): Job | undefined;
  /** The running job, queued jobs in run order, then the rest newest first. */
  list(options?: ListOptions): Job[];
  /** Atomically marks the first queued job running (attempts + 1) and returns it. */
  claimNext(now: string): Job | undefined;
  /** Records the seed a job runs with (chosen at start when the recipe had none). */
  setSeed(id: string, seed: string): void;
  finish(id: string, status: 'done' | 'failed' | 'cancelled', result: { error?: JobError; imageIds?: string[] }, now: string): Job;
  /** A running (or finished) job goes back to the queue: at its old place (retry after crash) or the end. */
  requeue(id: string, where: 'front' | 'end'): Job;
  /** Moves a queued job before another queued job, or to the end. */
  move(id: string, before: string | null): Job;
  /** At start-up: jobs left running by a crash or quit are queued again. Returns how many. */
  requeueInterrupted(): number;
  paused(): boolean;
  setPaused(paused: boolean): void;
}

/** A job id, a state or a move that the queue refuses. */
export class JobsError extends Error {
  override readonly name = 'JobsError';
  constructor(
    readonly code: 'NOT_FOUND' | 'CONFLICT',
    message: string,
  ) {
    super(message);
  }
}
