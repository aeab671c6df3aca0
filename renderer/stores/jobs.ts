// The generation queue as the renderer sees it: the job list from `jobs.list`, kept current by
// the onJob* events. Progress and previews live apart from the list, keyed by job id, so a
// progress event touches one small record instead of re-rendering a list of 1,000 jobs.
import { defineStore } from 'pinia';
import { computed, reactive, ref, shallowRef } from 'vue';
import { type ApiErrorShape, type Job, type JobRecipe, type PayloadOf } from '@api';
import { errorShapeOf } from '../api/errors';
import { useClient } from '../composables/useClient';

export type JobProgress = PayloadOf<'onJobProgress'>;

/** The most jobs one list holds (the Queue view windows them). */
const LIST_LIMIT = 1000;

function latestStartedSeed(list: readonly Job[]): string | null {
  let best: Job | null = null;
  for (const job of list) {
    if (job.startedAt && job.recipe.seed && (!best || job.startedAt > best.startedAt!)) best = job;
  }
  return best?.recipe.seed ?? null;
}

/** How far a job has come, 0..1, from its last progress event. */
export function progressFraction(p: JobProgress | undefined): number {
  if (!p || p.steps === 0 || p.count === 0) return 0;
  return Math.min(1, (p.image * p.steps + p.step) / (p.steps * p.count));
}

export const useJobsStore = defineStore('jobs', () => {
  const client = useClient();
  const jobs = shallowRef<Job[]>([]);
  const paused = ref(false);
  const progress = reactive(new Map<string, JobProgress>());
  const previews = reactive(new Map<string, string>());
  const error = ref<ApiErrorShape | null>(null);
  /** True until the first list arrives (the views show a loading state). */
  const loading = ref(true);
  /** The seed the most recently started job runs with (for "reuse last seed"). */
  const lastSeed = ref<string | null>(null);

  async function load(): Promise<void> {
    try {
      const listed = await client.call('jobs.list', { limit: LIST_LIMIT });
      jobs.value = listed.jobs;
      paused.value = listed.paused;
      lastSeed.value ??= latestStartedSeed(listed.jobs);
    } catch (caught) {
      error.value = errorShapeOf(caught);
    } finally {
      loading.value = false;
    }
  }

  /** Replaces one job in the list (or adds it), keeping the list's order. */
  function put(job: Job): void {
    const i = jobs.value.findIndex((j) => j.id === job.id);
    jobs.value = i < 0 ? [...jobs.value, job] : jobs.value.map((j, k) => (k === i ? job : j));
  }

  /**
   * A lifecycle event changed a job's state: re-read the list (cheap) rather than guess. Events
   * during a re-read coalesce into one more re-read after it, since that reply may predate them.
   */
  let reload: Promise<void> | null = null;
  let stale = false;
  function refresh(): void {
    if (reload) {
      stale = true;
      return;
    }
    reload = load().finally(() => {
      reload = null;
      if (stale) {
        stale = false;
        refresh();
      }
    });
  }

  client.on('onJobQueued', (job) => {
    put(job);
    // A retried job goes back among the queued ones: the list's order comes from the main side.
    refresh();
  });
  client.on('onJobStarted', (started) => {
    lastSeed.value = started.seed;
    refresh();
  });
  client.on('onJobProgress', (p) => progress.set(p.id, p));
  client.on('onJobPreview', (p) => previews.set(p.id, p.dataUrl));
  for (const e of ['onJobDone', 'onJobFailed', 'onJobCancelled'] as const) {
    client.on(e, (p) => {
      progress.delete(p.id);
      previews.delete(p.id);
      refresh();
    });
  }
  client.on('onQueueChanged', (q) => {
    paused.value = q.paused;
    refresh();
  });

  async function act<T>(task: () => Promise<T>): Promise<T | null> {
    error.value = null;
    try {
      return await task();
    } catch (caught) {
      error.value = errorShapeOf(caught);
      return null;
    }
  }

  return {
    jobs,
    paused,
    progress,
    previews,
    error,
    loading,
    lastSeed,
    running: computed(() => jobs.value.find((j) => j.status === 'running') ?? null),
    queuedCount: computed(() => jobs.value.reduce((n, j) => n + (j.status === 'queued' ? 1 : 0), 0)),
    load,
    clearError: () => (error.value = null),
    enqueue: (recipe: Partial<JobRecipe> & Pick<JobRecipe, 'prompt' | 'model'>, count: number) =>
      act(() => client.call('jobs.enqueue', { recipe, count })),
    cancel: (id: string) => act(() => client.call('jobs.cancel', { id })),
    retry: (id: string) => act(() => client.call('jobs.retry', { id })),
    /** Moves a queued job before another queued job (null: to the end). */
    move: (id: string, before: string | null) => act(() => client.call('jobs.move', { id, before })),
    pause: () => act(() => client.call('jobs.pause', {})),
    resume: () => act(() => client.call('jobs.resume', {})),
  };
});
