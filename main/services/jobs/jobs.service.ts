// The jobs service the API calls: validates state changes against the store, wakes the processor,
// and emits the events. A running job is requeued when the service starts (a crash or a quit
// while it ran loses nothing).
import { ApiError } from '../../api/errors.js';
import type { Job, JobRecipe, JobStatus } from '../../api/jobs.js';
import { JobsError, type JobStore } from './jobs.js';
import { JobProcessor, type ProcessorOptions } from './processor.js';

export interface JobsService {
  enqueue(recipe: JobRecipe, count: number): Job;
  list(options?: { statuses?: JobStatus[]; limit?: number }): { jobs: Job[]; paused: boolean };
  cancel(id: string): Job;
  retry(id: string): Job;
  move(id: string, before: string | null): Job;
  pause(): { paused: boolean };
  resume(): { paused: boolean };
  /** Resolves when the processor has nothing left to do. */
  idle(): Promise<void>;
  stop(): void;
  readonly processor: JobProcessor;
}

function api<T>(f: () => T): T {
  try {
    return f();
  } catch (error) {
    if (error instanceof JobsError) throw new ApiError(error.code, error.message);
    throw error;
  }
}

export function createJobsService(options: ProcessorOptions & { store: JobStore }): JobsService {
  const { store, emit } = options;
  const now = () => (options.now?.() ?? new Date()).toISOString();
  const requeued = store.requeueInterrupted();
  if (requeued) options.log?.(`jobs: ${requeued} interrupted job(s) queued again`);
  const processor = new JobProcessor(options);
  const must = (id: string) => {
    const job = store.get(id);
    if (!job) throw new ApiError('NOT_FOUND', `no job ${id}`);
    return job;
  };
  const queueChanged = () => emit('onQueueChanged', { paused: store.paused() });

  const service: JobsService = {
    processor,
    enqueue(recipe, count) {
      const job = store.insert(recipe, count, now());
      emit('onJobQueued', job);
      processor.wake();
      return job;
    },
    list(o = {}) {
      return { jobs: store.list(o), paused: store.paused() };
    },
    cancel(id) {
      const job = must(id);
      if (job.status === 'queued') {
        const cancelled = store.finish(id, 'cancelled', {}, now());
        emit('onJobCancelled', { id });
        return cancelled;
      }
      if (job.status === 'running' && processor.cancelRunning(id)) return job;
      throw new ApiError('CONFLICT', `job ${id} is ${job.status}; only queued or running jobs can be cancelled`);
    },
    retry(id) {
      const job = must(id);
      if (job.status !== 'failed' && job.status !== 'cancelled') {
        throw new ApiError('CONFLICT', `job ${id} is ${job.status}; only failed or cancelled jobs can be retried`);
      }
      const again = store.requeue(id, 'end');
      emit('onJobQueued', again);
      processor.wake();
      return again;
    },
    move(id, before) {
      const job = api(() => store.move(id, before));
      queueChanged();
      return job;
    },
    pause() {
      store.setPaused(true);
      queueChanged();
      return { paused: true };
    },
    resume() {
      store.setPaused(false);
      queueChanged();
      processor.wake();
      return { paused: false };
    },
    idle: () => processor.idle(),
    stop: () => processor.stop(),
  };
  processor.wake();
  return service;
}
