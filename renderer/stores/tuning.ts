// Quality tuning as the renderer sees it: the runs (tuning.list, kept current by onTuningRun,
// with each step's loss appended by onTuningStep so the curve grows without re-sending the
// run), the dataset being put together (its images, captions, problems), and the model
// variants the chosen checkpoints became.
import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import {
  type ApiErrorShape,
  type DatasetItem,
  type DatasetProblem,
  type DatasetSource,
  type TuningRun,
  type TuningSettingsInput,
  type Variant,
} from '@api';
import { errorShapeOf } from '../api/errors';
import { useClient } from '../composables/useClient';

/** Exponential moving average of a series (the smoothed curve); `alpha` the weight of a new point. */
export function smoothed(values: readonly number[], alpha = 0.1): number[] {
  const out: number[] = [];
  let s: number | undefined;
  for (const v of values) {
    s = s === undefined ? v : s + alpha * (v - s);
    out.push(s);
  }
  return out;
}

export const useTuningStore = defineStore('tuning', () => {
  const client = useClient();
  const runs = shallowRef<TuningRun[]>([]);
  const variants = shallowRef<Variant[]>([]);
  const selectedId = ref<string | null>(null);
  const loading = ref(true);
  const error = ref<ApiErrorShape | null>(null);

  // The dataset being put together.
  const source = ref<DatasetSource | null>(null);
  const items = shallowRef<DatasetItem[]>([]);
  const problems = shallowRef<DatasetProblem[]>([]);
  const resolution = ref<number | null>(null);
  const checking = ref(false);
  const edits = ref<Record<string, string>>({});
  const trigger = ref('');

  function put(run: TuningRun): void {
    const i = runs.value.findIndex((r) => r.id === run.id);
    runs.value = i < 0 ? [run, ...runs.value] : runs.value.map((r, k) => (k === i ? run : r));
  }

  async function act<T>(task: () => Promise<T>): Promise<T | null> {
    error.value = null;
    try {
      return await task();
    } catch (caught) {
      error.value = errorShapeOf(caught);
      return null;
    }
  }

  async function load(): Promise<void> {
    await act(async () => {
      const [listed, v] = await Promise.all([client.call('tuning.list', {}), client.call('tuning.variants', {})]);
      runs.value = listed.runs;
      variants.value = v.variants;
      selectedId.value ??= listed.runs[0]?.id ?? null;
    });
    loading.value = false;
  }

  async function checkDataset(next: DatasetSource, model: string): Promise<void> {
    source.value = next;
    checking.value = true;
    const r = await act(() => client.call('tuning.dataset', { source: next, model }));
    checking.value = false;
    items.value = r?.items ?? [];
    problems.value = r?.problems ?? [];
    resolution.value = r?.resolution ?? null;
    edits.value = {};
  }

  async function start(settings: TuningSettingsInput): Promise<TuningRun | null> {
    if (!source.value) return null;
    const src = source.value;
    const run = await act(() => client.call('tuning.start', { source: src, captions: { edits: edits.value, trigger: trigger.value }, settings }));
    if (run) {
      put(run);
      selectedId.value = run.id;
    }
    return run;
  }

  client.on('onTuningRun', (run) => put(run));
  client.on('onTuningStep', (s) => {
    const run = runs.value.find((r) => r.id === s.id);
    if (!run) return;
    const losses = run.losses.slice(0, s.step - 1);
    const lrs = run.lrs.slice(0, s.step - 1);
    losses.push(s.loss);
    lrs.push(s.lr);
    put({ ...run, step: s.step, losses, lrs, secondsPerStep: s.secondsPerStep, etaSeconds: s.etaSeconds, phase: 'training', status: 'running' });
  });
  client.on('onVariantsChanged', (v) => (variants.value = v.variants));

  return {
    runs,
    variants,
    selectedId,
    selected: computed(() => runs.value.find((r) => r.id === selectedId.value) ?? null),
    loading,
    error,
    source,
    items,
    problems,
    resolution,
    checking,
    edits,
    trigger,
    load,
    checkDataset,
    start,
    cancel: (id: string) => act(async () => put(await client.call('tuning.cancel', { id }))),
    resume: (id: string) => act(async () => put(await client.call('tuning.resume', { id }))),
    useCheckpoint: (id: string, step: number, name: string) => act(() => client.call('tuning.useCheckpoint', { id, step, name })),
  };
});
