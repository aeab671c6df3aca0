// The model manager as the renderer sees it: registered models, the last validation report,
// the download catalogue, each download's and each conversion's live state, kept current by the
// API's events.
import { defineStore } from 'pinia';
import { ref } from 'vue';
import { type ApiErrorShape, type CatalogueEntry, type Conversion, type Download, type Model, type Settings, type Validation } from '@api';
import { errorShapeOf } from '../api/errors';
import { useClient } from '../composables/useClient';

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

const WEIGHTS_FILE = /\.(safetensors|pt|pth|bin|ckpt)$/;
const TORCH_FILE = /\.(pt|pth|bin|ckpt)$/;
const isAbsolute = (p: string): boolean => p.startsWith('/') || p.startsWith('\\') || /^[A-Za-z]:[\\/]/.test(p);

/**
 * The weights file a Dimba model runs from, as the main side picks it (services/models/
 * pipeline.ts modelLocation): a file in the model's own folder (a download, or a conversion's
 * result), a safetensors first; else the local file it was registered from. Null for other kinds.
 */
export function weightsFileOf(model: Model): string | null {
  if (model.kind !== 'dimba') return null;
  const inFolder = model.files
    .filter((f) => !isAbsolute(f.path) && WEIGHTS_FILE.test(f.path))
    .sort((a, b) => Number(b.path.endsWith('.safetensors')) - Number(a.path.endsWith('.safetensors')))[0];
  if (inFolder) return inFolder.path;
  return model.source.type === 'local' ? model.source.path : null;
}

/** Whether models.convert applies: a Dimba model that runs from a PyTorch checkpoint. */
export function canConvert(model: Model): boolean {
  return TORCH_FILE.test(weightsFileOf(model) ?? '');
}

/** The last path component, for either separator. */
export function fileName(p: string): string {
  return p.split(/[\\/]/).pop() ?? p;
}

export const useModelsStore = defineStore('models', () => {
  const client = useClient();
  const models = ref<Model[]>([]);
  const catalogue = ref<CatalogueEntry[]>([]);
  const downloads = ref<Record<string, Download>>({});
  /** Each model's last conversion this session, by model id (the API keeps no history). */
  const conversions = ref<Record<string, Conversion>>({});
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
  client.on('onModelConversion', (c) => {
    conversions.value = { ...conversions.value, [c.modelId]: c };
  });

  async function run<T>(task: () => Promise<T>): Promise<T | null> {
    busy.value = true;
    error.value = null;
    try {
      return await task();
    } catch (caught) {
      error.value = errorShapeOf(caught);
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

  /** Starts converting a model's .pt; progress and the outcome arrive as onModelConversion. */
  async function convert(id: string): Promise<void> {
    const rest = { ...conversions.value };
    delete rest[id];
    conversions.value = rest;
    const started = await run(() => client.call('models.convert', { id }));
    // A small file can finish before the reply arrives: the events of this run (the only ones
    // since the entry was cleared) are newer than the reply, so they win.
    if (started && !conversions.value[id]) conversions.value = { ...conversions.value, [id]: started };
  }

  async function cancelConversion(id: string): Promise<void> {
    await run(() => client.call('models.cancelConversion', { id }));
  }

  return {
    models,
    catalogue,
    downloads,
    conversions,
    validation,
    busy,
    loaded,
    error,
    load,
    validate,
    register,
    remove,
    download,
    cancel,
    convert,
    cancelConversion,
  };
});
