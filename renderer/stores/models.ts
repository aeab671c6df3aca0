// The model manager as the renderer sees it: registered models, the last validation report,
// the download catalogue and each download's live state, kept current by the API's events.
import { defineStore } from 'pinia';
import { ref } from 'vue';
import { ApiError, type ApiErrorShape, type CatalogueEntry, type Download, type Model, type Settings, type Validation } from '@api';
import { useClient } from '../composables/useClient';

function toErrorShape(error: unknown): ApiErrorShape {
  if (error instanceof ApiError) return error.toShape();
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
}

/** Models that make images on their own (T5 and VAE are parts of a pipeline). */
export function generativeModels(list: readonly Model[]): Model[] {
  return list.filter((m) => m.kind === 'dimba' || m.kind === 'builtin');
}

/** Whether a model can make images now: its files are there and, for a Dimba model, its T5 and VAE. */
export function canGenerate(model: Model): boolean {
  return model.status === 'ready' && !model.pipeline?.problem;
}

/**
 * The default among `choices`: the one the settings name, else the built-in, else the one added
 * first (so adding a model never changes the default by itself); only models that can generate.
 */
export function defaultModelOf(choices: readonly Model[], settings: Pick<Settings, 'defaultModel'> | null): Model | null {
  const ready = choices.filter(canGenerate);
  const oldest = ready.reduce<Model | null>((best, m) => (best === null || m.addedAt < best.addedAt ? m : best), null);
  return ready.find((m) => m.id === settings?.defaultModel) ?? ready.find((m) => m.kind === 'builtin') ?? oldest;
}

export const useModelsStore = defineStore('models', () => {
  const client = useClient();
  const models = ref<Model[]>([]);
  const catalogue = ref<CatalogueEntry[]>([]);
  const downloads = ref<Record<string, Download>>({});
  const validation = ref<Validation | null>(null);
  const busy = ref(false);
  /** False until the first list arrives (the views show a loading state). */
  const loaded = ref(false);
  const error = ref<ApiErrorShape | null>(null);

  client.on('onModelsChanged', (list) => {
    models.value = list;
  });
  client.on('onModelDownload', (d) => {
    downloads.value = { ...downloads.value, [d.catalogueId]: d };
  });

  async function run<T>(task: () => Promise<T>): Promise<T | null> {
    busy.value = true;
    error.value = null;
    try {
      return await task();
    } catch (caught) {
      error.value = toErrorShape(caught);
      return null;
    } finally {
      busy.value = false;
    }
  }

  async function load(): Promise<void> {
    await run(async () => {
      const [list, cat, running] = await Promise.all([client.call('models.list'), client.call('models.catalogue'), client.call('models.downloads')]);
      models.value = list;
      catalogue.value = cat;
      downloads.value = Object.fromEntries(running.map((d) => [d.catalogueId, d]));
    });
    loaded.value = true;
  }

  async function validate(path: string): Promise<void> {
    validation.value = null;
    validation.value = await run(() => client.call('models.validate', { path }));
  }

  async function register(path: string, name?: string, kind?: 'dimba' | 't5' | 'vae'): Promise<Model[] | null> {
    const added = await run(() => client.call('models.register', { path, ...(name ? { name } : {}), ...(kind ? { kind } : {}) }));
    if (added) {
      validation.value = added[0]?.validation ?? validation.value;
      models.value = await client.call('models.list');
    }
    return added;
  }

  async function remove(id: string): Promise<void> {
    await run(async () => {
      await client.call('models.remove', { id });
      models.value = await client.call('models.list');
    });
  }

  async function download(catalogueId: string): Promise<void> {
    const d = await run(() => client.call('models.download', { catalogueId }));
    if (d) downloads.value = { ...downloads.value, [catalogueId]: d };
  }

  async function cancel(catalogueId: string): Promise<void> {
    await run(() => client.call('models.cancelDownload', { catalogueId }));
  }

  return { models, catalogue, downloads, validation, busy, loaded, error, load, validate, register, remove, download, cancel };
});
