// The composition root: builds every service once, for whichever shell hosts them. Services are
// plain Node (no Electron import) so they run under node, in tests and in browser mode.
import type { AppInfo, EventName, PayloadOf } from '../api/index.js';
import path from 'node:path';
import { ApiError } from '../api/errors.js';
import { DEFAULT_SETTINGS, type Settings } from '../api/settings.js';
import { nodeEngineSpawner } from '../engine-host/channel.node.js';
import { ENGINE_ENTRY } from '../engine-host/entry.js';
import type { SpawnEngine } from '../engine-host/channel.js';
import { EngineHost } from '../engine-host/host.js';
import type { ImageSink } from './jobs/image-sink.js';
import { createJobsService, type JobsService } from './jobs/jobs.service.js';
import { createSqliteJobStore } from './jobs/store.sqlite.js';
import { openLibrary } from './library/library.js';
import { createImageFiles } from './gallery/files.js';
import type { GalleryService } from './gallery/gallery.js';
import { createLibraryGallery } from './gallery/gallery.library.js';
import { createGalleryImageSink } from './gallery/image-sink.gallery.js';
import { createSqliteImageRecords } from './gallery/records.sqlite.js';
import { builtinModelFolder } from '../runtime/paths.js';
import { createModelsService, type ModelsService } from './models/models.service.js';
import { headerInspector } from './models/inspect.headers.js';
import { engineProcessInspector } from './models/inspect.process.js';
import { createFileSettings } from './settings/settings.file.js';
import type { SettingsService } from './settings/settings.js';
import { createTuningService, type TuningService } from './tuning/tuning.service.js';

export type EventSink = <E extends EventName>(event: E, payload: PayloadOf<E>) => void;

export interface Services {
  appInfo(): AppInfo;
  settings: SettingsService;
  jobs: JobsService;
  engine: EngineHost;
  gallery: GalleryService;
  models: ModelsService;
  tuning: TuningService;
}

export interface ServiceOptions {
  userDataFolder: string;
  mode: AppInfo['mode'];
  version: string;
  /** Where services publish events; the shell forwards them to its windows or sockets. */
  emit: EventSink;
  log?: (message: string) => void;
  /** How the engine process starts: utilityProcess in Electron; a node child process otherwise. */
  spawnEngine?: SpawnEngine;
  /** Where finished images go (the gallery); until given, queued jobs wait. */
  imageSink?: ImageSink;
}

export { ENGINE_ENTRY } from '../engine-host/entry.js';

/** A jobs service that answers every call with the reason the library could not be opened. */
function unavailableJobs(reason: string): JobsService {
  const fail = (): never => {
    throw new ApiError('INTERNAL', `the job queue is unavailable: ${reason}`);
  };
  return new Proxy({} as JobsService, { get: () => fail });
}

export function createServices(options: ServiceOptions): Services {
  // The queue reads these on every job; settings.get() is async, so they are kept current here.
  let previewEvery: number = DEFAULT_SETTINGS.previewEvery;
  let retryCrashedJobs: boolean = DEFAULT_SETTINGS.retryCrashedJobs;
  let memoryLimitGiB: number = DEFAULT_SETTINGS.memoryLimitGiB;
  let backend: Settings['backend'] = DEFAULT_SETTINGS.backend;
  const follow = (value: Settings): void => {
    previewEvery = value.previewEvery;
    retryCrashedJobs = value.retryCrashedJobs;
    memoryLimitGiB = value.memoryLimitGiB;
    backend = value.backend;
  };
  const settings = createFileSettings({
    folder: options.userDataFolder,
    onChange: (value) => {
      follow(value);
      options.emit('onSettingsChanged', value);
    },
    log: options.log,
  });
  void settings.get().then(follow).catch(() => undefined);
  const engine = new EngineHost({
    spawn: options.spawnEngine ?? nodeEngineSpawner(ENGINE_ENTRY),
    // Read when a process starts: a changed setting applies from the next engine start.
    backendSetting: () => backend,
    log: options.log,
    // A getter: the host reads it at every model load, so a changed setting applies to the next one.
    get memoryBudgetBytes() {
      return memoryLimitGiB > 0 ? Math.floor(memoryLimitGiB * 2 ** 30) : undefined;
    },
  });
  // Models live in models/ of the user-data folder (settings.modelsFolder is not followed yet).
  // Validation runs the engine's inspector in the engine process (never native parsing in this
  // one); without an engine, safetensors headers are read here.
  const models = createModelsService({
    folder: path.join(options.userDataFolder, 'models'),
    inspector: engineProcessInspector(engine, headerInspector),
    onModelsChanged: (list) => options.emit('onModelsChanged', list),
    onDownload: (download) => options.emit('onModelDownload', download),
    onConversion: (conversion) => options.emit('onModelConversion', conversion),
    log: options.log,
    builtinFolder: builtinModelFolder,
  });
  let jobs: JobsService;
  let gallery: GalleryService;
  let galleryReady: GalleryService | undefined;
  // Tuning runs hold an engine process for minutes to hours: they get their own, so generation
  // goes on beside them. A cancel waits for the end of the current step or sample.
  const tuningEngine = new EngineHost({
    spawn: options.spawnEngine ?? nodeEngineSpawner(ENGINE_ENTRY),
    backendSetting: () => backend,
    log: options.log,
    cancelGraceMs: 15 * 60_000,
  });
  const tuning = createTuningService({
    folder: path.join(options.userDataFolder, 'library', 'tuning'),
    engine: tuningEngine,
    gallery: () => galleryReady,
    manifestFor: (ref) => models.manifestFor(ref),
    emit: (event, payload) => options.emit(event, payload),
    log: options.log,
  });
  try {
    // The default library folder; a moved library (settings.libraryFolder) is the gallery's to open.
    const folder = path.join(options.userDataFolder, 'library');
    const library = openLibrary({ folder });
    const libraryGallery = createLibraryGallery(library, createImageFiles(library.folder), createSqliteImageRecords(library.db), {
      folder,
      log: options.log,
      onAdded: (image) => options.emit('onGalleryImageAdded', image),
    });
    gallery = libraryGallery;
    galleryReady = libraryGallery;
    // The start-up sweep runs in the background; saves wait for it (see gallery.library.ts).
    void libraryGallery.sweep().catch((error: unknown) => options.log?.(`gallery sweep failed: ${String(error)}`));
    jobs = createJobsService({
      store: createSqliteJobStore(library.db),
      engine,
      sink: options.imageSink ?? createGalleryImageSink(() => libraryGallery),
      emit: (event, payload) => options.emit(event, payload),
      previewEvery: () => previewEvery,
      crashAttempts: () => (retryCrashedJobs ? 2 : 1),
      // Each image records the backend its engine process was started under.
      engineInfo: () => ({ version: options.version, backend: engine.backend?.backend ?? 'cpu' }),
      // A registered model's id runs its pipeline manifest (written from the parts registered now).
      resolveModel: (ref) => models.manifestFor(ref),
      resolveAdapter: (id) => {
        const { file, variant } = tuning.variantFile(id);
        return { file, hash: variant.hash };
      },
      log: options.log,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    options.log?.(`library: ${reason}`);
    jobs = unavailableJobs(reason);
    gallery = new Proxy({} as GalleryService, {
      get: () => () => {
        throw new ApiError('INTERNAL', `the gallery is unavailable: ${reason}`);
      },
    });
  }
  return {
    jobs,
    gallery,
    models,
    engine,
    tuning,
    appInfo: () => ({
      name: 'Dimba Studio',
      version: options.version,
      mode: options.mode,
      platform: process.platform,
      userDataFolder: options.userDataFolder,
    }),
    settings,
  };
}
