// The model manager as the API sees it: the registry (registered models, validation) and the
// download manager (catalogue, downloads), built over one models folder.
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ApiError } from '../../api/errors.js';
import { BUILTIN_MODEL_ID, catalogueEntrySchema, MODEL_ID_PATTERN } from '../../api/models.js';
import path from 'node:path';
import type { CatalogueEntry, Conversion, Download, Model, Validation } from '../../api/models.js';
import { builtinManifestPath, builtinModel } from './builtin.js';
import { ConversionManager } from './conversions.js';
import { DEFAULT_CATALOGUE } from './download-catalogue.js';
import { DownloadManager } from './download-manager.js';
import type { FreeSpaceProbe } from './download.js';
import { HashCache } from './hash.js';
import type { Inspector } from './inspect.js';
import { headerInspector } from './inspect.headers.js';
import { writePipelineManifest } from './pipeline.js';
import { ModelRegistry, writeJsonAtomic } from './registry.js';

export interface ModelsService {
  list(): Promise<Model[]>;
  validate(target: string): Promise<Validation>;
  register(target: string, name?: string, kind?: 'dimba' | 't5' | 'vae'): Promise<Model[]>;
  remove(id: string): Promise<boolean>;
  catalogue(): CatalogueEntry[];
  downloads(): Download[];
  download(catalogueId: string): Download;
  cancelDownload(catalogueId: string): boolean;
  /** Starts converting a Dimba model's PyTorch checkpoint to safetensors (see conversions.ts). */
  convert(id: string): Promise<Conversion>;
  cancelConversion(id: string): boolean;
  /**
   * The engine manifest a job's `model` runs: BUILTIN_MODEL_ID gives the built-in model's
   * manifest (when the service has a builtinFolder), a Dimba model's id gives its pipeline manifest
   * (written now, from the parts registered now), a model with a `.manifest.json` file gives
   * that file, anything else is taken as a manifest path. Throws NOT_FOUND for an unknown id,
   * MODEL_INVALID for a model that cannot generate (a T5 or VAE alone, a missing part).
   */
  manifestFor(ref: string): Promise<string>;
}

export interface ModelsServiceOptions {
  folder: string;
  inspector?: Inspector;
  /** Default: the reference release (download-catalogue.ts) plus `<folder>/catalogue.json`. */
  catalogue?: readonly CatalogueEntry[];
  onModelsChanged?: (models: Model[]) => void;
  onDownload?: (download: Download) => void;
  onConversion?: (conversion: Conversion) => void;
  freeSpace?: FreeSpaceProbe;
  retryDelayMs?: number;
  progressIntervalMs?: number;
  log?: (message: string) => void;
  /** The built-in model's folder (runtime/paths.ts builtinModelFolder): listed first and run by
   *  its id. Absent: no built-in model (tests of the registry alone). */
  builtinFolder?: string;
}

/**
 * Entries a user (or a mirror's admin) adds in `<models>/catalogue.json`: a JSON array of
 * catalogue entries. A malformed file is logged and ignored, never fatal; ids that clash with
 * the defaults are dropped.
 */
export function userCatalogue(folder: string, log?: (message: string) => void): CatalogueEntry[] {
  let text: string;
  try {
    text = readFileSync(path.join(folder, 'catalogue.json'), 'utf8');
  } catch {
    return [];
  }
  try {
    const parsed = z.array(catalogueEntrySchema).safeParse(JSON.parse(text));
    if (!parsed.success) throw new Error(parsed.error.message);
    return parsed.data.filter((e) => !DEFAULT_CATALOGUE.some((d) => d.id === e.id));
  } catch (error) {
    log?.(`models: ${path.join(folder, 'catalogue.json')} ignored: ${(error as Error).message}`);
    return [];
  }
}

export function createModelsService(
  options: ModelsServiceOptions,
): ModelsService & { registry: ModelRegistry; downloadManager: DownloadManager; conversions: ConversionManager } {
  // The hash cache lives in the models folder, keyed by absolute path (size + mtime decide reuse).
  const cacheFile = path.join(options.folder, '.hash-cache.json');
  const hashes = new HashCache({
    load: async () => {
      try {
        const value: unknown = JSON.parse(await readFile(cacheFile, 'utf8'));
        return typeof value === 'object' && value !== null ? (value as Record<string, { size: number; mtimeMs: number; sha256: string }>) : {};
      } catch {
        return {};
      }
    },
    save: (entries) => writeJsonAtomic(cacheFile, entries),
  });
  // The built-in model leads every list, events included, so a picker shows it first.
  const withBuiltin = (models: Model[]): Model[] => {
    const builtin = options.builtinFolder ? builtinModel(options.builtinFolder) : null;
    return builtin ? [builtin, ...models.filter((m) => m.id !== BUILTIN_MODEL_ID)] : models;
  };
  const onModelsChanged = options.onModelsChanged;
  const registry = new ModelRegistry({
    folder: options.folder,
    inspector: options.inspector ?? headerInspector,
    hashes,
    onChange: onModelsChanged ? (models) => onModelsChanged(withBuiltin(models)) : undefined,
    log: options.log,
  });
  const downloadManager = new DownloadManager({
    registry,
    catalogue: options.catalogue ? () => options.catalogue ?? [] : () => [...DEFAULT_CATALOGUE, ...userCatalogue(options.folder, options.log)],
    onProgress: options.onDownload,
    freeSpace: options.freeSpace,
    retryDelayMs: options.retryDelayMs,
    progressIntervalMs: options.progressIntervalMs,
  });
  const conversions = new ConversionManager({ registry, onProgress: options.onConversion, progressIntervalMs: options.progressIntervalMs });
  return {
    registry,
    downloadManager,
    conversions,
    list: async () => withBuiltin(await registry.list()),
    validate: (target) => registry.validate(target),
    register: (target, name, kind) => registry.register(target, name, kind),
    remove: (id) => registry.remove(id),
    catalogue: () => downloadManager.catalogue(),
    downloads: () => downloadManager.list(),
    download: (id) => downloadManager.start(id),
    cancelDownload: (id) => downloadManager.cancel(id),
    convert: (id) => conversions.start(id),
    cancelConversion: (id) => conversions.cancel(id),
    async manifestFor(ref) {
      if (ref === BUILTIN_MODEL_ID && options.builtinFolder) {
        if (builtinModel(options.builtinFolder)?.status !== 'ready') {
          throw new ApiError('MODEL_INVALID', `the built-in model's files are missing from ${options.builtinFolder}`);
        }
        return builtinManifestPath(options.builtinFolder);
      }
      if (MODEL_ID_PATTERN.test(ref)) {
        const all = await registry.list();
        const model = all.find((m) => m.id === ref);
        if (model) {
          if (model.kind === 'dimba') return writePipelineManifest(model, all, options.folder);
          const manifest = model.files.find((f) => f.path.endsWith('.manifest.json'));
          if (manifest) return path.resolve(options.folder, model.id, manifest.path);
          throw new ApiError('MODEL_INVALID', `${model.name} is a ${model.kind} model, one part of a pipeline: choose a Dimba model to generate with`);
        }
        if (!existsSync(ref)) throw new ApiError('NOT_FOUND', `no registered model ${ref}`);
      }
      return ref;
    },
  };
}
