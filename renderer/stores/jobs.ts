// The generation queue as the renderer sees it: the job list from `jobs.list`, kept current by
// the onJob* events. Progress and previews live apart from the list, keyed by job id, so a
// progress event touches one small record instead of re-rendering a list of 1,000 jobs.
import { defineStore } from 'pinia';
import { computed, reactive, ref, shallowRef } from 'vue';
import { ApiError, type ApiErrorShape, type Job, type JobRecipe, type PayloadOf } from '@api';
import { useClient } from '../composables/useClient';

export type JobProgress = PayloadOf<'onJobProgress'>;

function toErrorShape(error: unknown): ApiErrorShape {
  if (error instanceof ApiError) return error.toShape();
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
}

export const useJobsStore = defineStore('jobs', () => {
  const client = useClient();
  const jobs = shallowRef<Job[]>([]);
  const paused = ref(false);
  const progress = reactive(new Map<string, JobProgress>());
  const previews = reactive(new Map<string, string>());
  const error = ref<ApiErrorShape | null>(null);

  async function load(): Promise<void> {
    try {
      const listed = await client.call('jobs.list', { limit: 1000 });
      jobs.value = listed.jobs;
      paused.value = listed.paused;
    } catch (caught) {
      error.value = toErrorShape(caught);
    }
  }

  /** Replaces one job in the list (or adds it), keeping the list's order. */
  function put(job: Job): void {
    const i = jobs.value.findIndex((j) => j.id === job.id);
    jobs.value = i < 0 ? [...jobs.value, job] : jobs.value.map((j, k) => (k === i ? job : j));
  }

  /** A lifecycle event changed a job's state: re-read the list (cheap) rather than guess. */
  let reload: Promise<void> | null = null;
  function refresh(): void {
    reload ??= load().finally(() => (reload = null));
  }

  client.on('onJobQueued', (job) => put(job));
  client.on('onJobStarted', () => refresh());
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
      error.value = toErrorShape(caught);
      return null;
    }
  }

  return {
    jobs,
    paused,
    progress,
    previews,
    error,
    running: computed(() => jobs.value.find((j) => j.status === 'running') ?? null),
    load,
    enqueue: (recipe: Partial<JobRecipe> & Pick<JobRecipe, 'prompt' | 'model'>, count: number) =>
      act(() => client.call('jobs.enqueue', { recipe, count })),
    cancel: (id: string) => act(() => client.call('jobs.cancel', { id })),
    retry: (id: string) => act(() => client.call('jobs.retry', { id })),
    pause: () => act(() => client.call('jobs.pause', {})),
    resume: () => act(() => client.call('jobs.resume', {})),
  };
});
