// The tuning service: runs queued one at a time on their own engine host (a tuning run holds an
// engine process for minutes to hours; generation keeps its own), recorded in the library so a
// quit or crash loses nothing: at start every run that was queued or running is queued again
// and resumes from its last checkpoint (the engine's state file in the run folder). A run's
// record is run.json in <library>/tuning/runs/<id>/, with its sample images beside it as PNG.
// The checkpoint a user picks is copied into <library>/tuning/variants/ and listed in
// variants.json with its sha256, the id and hash an image's recipe records.
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { ApiError } from '../../api/errors.js';
import type {
  DatasetProblem,
  DatasetSource,
  TuningCheckpoint,
  TuningRun,
  TuningSettings,
  Variant,
  tuningEvents,
  captionsSchema,
} from '../../api/tuning.js';
import type { EngineHost } from '../../engine-host/host.js';
import type { TuneEventMessage, TuneSpec } from '../../engine-host/tuning-protocol.js';
import { encodePng } from '../images/png.js';
import { sha256File } from '../models/hash.js';
import { writeFileAtomic } from '../settings/settings.file.js';
import { captionFor, checkDataset, collectDataset, MIN_TUNING_IMAGES, type DatasetGallery } from './dataset.js';
import { manifestResolution } from './model-manifest.js';

type Captions = z.output<typeof captionsSchema>;
export type TuningEmit = <E extends keyof typeof tuningEvents>(event: E, payload: z.output<(typeof tuningEvents)[E]>) => void;

export interface TuningServiceOptions {
  /** <library>/tuning */
  folder: string;
  engine: Pick<EngineHost, 'tune' | 'cancel'>;
  gallery: () => DatasetGallery | undefined;
  /** A registered model's id -> its manifest (the models service). */
  manifestFor: (model: string) => Promise<string>;
  emit: TuningEmit;
  minImages?: number;
  log?: (message: string) => void;
}

export interface TuningService {
  dataset(source: DatasetSource, model: string): Promise<{ items: import('../../api/tuning.js').DatasetItem[]; problems: DatasetProblem[]; resolution: number }>;
  start(source: DatasetSource, captions: Captions, settings: TuningSettings): Promise<TuningRun>;
  list(): TuningRun[];
  get(id: string): TuningRun;
  cancel(id: string): TuningRun;
  resume(id: string): TuningRun;
  useCheckpoint(id: string, step: number, name: string): Promise<Variant>;
  variants(): Variant[];
  /** The variant file and record of an id (Generate). */
  variantFile(id: string): { file: string; variant: Variant };
  /** Resolves when no run is in progress (tests, shutdown). */
  idle(): Promise<void>;
}

/** What run.json holds: the run as the API shows it (samples as file names) and the dataset. */
interface RunRecord {
  run: Omit<TuningRun, 'baseSamples' | 'checkpoints'> & {
    baseSamples: StoredSample[];
    checkpoints: (Omit<TuningCheckpoint, 'samples'> & { samples: StoredSample[] })[];
  };
  images: { file: string; caption: string }[];
  manifest: string;
}
interface StoredSample {
  prompt: string;
  seed: number;
  file: string;
}

/** The validation loss rising this far above its best so far flags overfitting. */
const OVERFIT_RATIO = 1.05;

export function createTuningService(o: TuningServiceOptions): TuningService {
  const runsFolder = path.join(o.folder, 'runs');
  const variantsFolder = path.join(o.folder, 'variants');
  const variantsFile = path.join(o.folder, 'variants.json');
  const records = new Map<string, RunRecord>();
  const dataUrls = new Map<string, string>();
  let variants: Variant[] = [];
  let current: { id: string; cancelRequested: boolean } | undefined;
  let loop: Promise<void> | undefined;
  let ready: Promise<void>;

  const runFolder = (id: string): string => path.join(runsFolder, id);

  async function sampleUrl(id: string, file: string): Promise<string> {
    const key = `${id}/${file}`;
    let url = dataUrls.get(key);
    if (!url) {
      url = `data:image/png;base64,${(await fs.readFile(path.join(runFolder(id), 'samples', file))).toString('base64')}`;
      dataUrls.set(key, url);
    }
    return url;
  }

  /** The API's view of a record; samples already read (they are written before the record). */
  function view(r: RunRecord): TuningRun {
    const s = (x: StoredSample) => ({ prompt: x.prompt, seed: x.seed, dataUrl: dataUrls.get(`${r.run.id}/${x.file}`) ?? '' });
    return { ...r.run, baseSamples: r.run.baseSamples.map(s), checkpoints: r.run.checkpoints.map((c) => ({ ...c, samples: c.samples.map(s) })) };
  }

  /** Writes of one file, one after another (two atomic writes in the same millisecond collide). */
  const writes = new Map<string, Promise<void>>();
  function serialised(file: string, contents: () => string): Promise<void> {
    const next = (writes.get(file) ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => writeFileAtomic(file, contents()));
    writes.set(file, next);
    return next;
  }

  function save(r: RunRecord): Promise<void> {
    return serialised(path.join(runFolder(r.run.id), 'run.json'), () => JSON.stringify(r));
  }

  const logged = (what: string) => (error: unknown) => o.log?.(`tuning: ${what}: ${String(error)}`);

  async function changed(r: RunRecord): Promise<void> {
    await save(r);
    o.emit('onTuningRun', view(r));
  }

  function record(id: string): RunRecord {
    const r = records.get(id);
    if (!r) throw new ApiError('NOT_FOUND', `no tuning run ${id}`);
    return r;
  }

  async function load(): Promise<void> {
    await fs.mkdir(runsFolder, { recursive: true });
    try {
      variants = JSON.parse(await fs.readFile(variantsFile, 'utf8')) as Variant[];
    } catch {
      variants = [];
    }
    for (const id of await fs.readdir(runsFolder)) {
      try {
        const r = JSON.parse(await fs.readFile(path.join(runFolder(id), 'run.json'), 'utf8')) as RunRecord;
        for (const x of [...r.run.baseSamples, ...r.run.checkpoints.flatMap((c) => c.samples)]) await sampleUrl(id, x.file);
        // A run the last session left queued or running goes back in the queue; it resumes.
        if (r.run.status === 'running' || r.run.status === 'queued') {
          r.run.status = 'queued';
          r.run.phase = 'waiting';
          await save(r);
        }
        records.set(id, r);
      } catch (error) {
        o.log?.(`tuning: run ${id} is unreadable and left alone: ${String(error)}`);
      }
    }
  }

  async function writeSamples(id: string, prefix: string, samples: TuneEventMessage & { type: 'baseSamples' | 'checkpoint' }): Promise<StoredSample[]> {
    const out: StoredSample[] = [];
    await fs.mkdir(path.join(runFolder(id), 'samples'), { recursive: true });
    for (const [i, s] of samples.samples.entries()) {
      const file = `${prefix}-${i}.png`;
      await fs.writeFile(path.join(runFolder(id), 'samples', file), encodePng({ width: s.width, height: s.height, rgb: s.rgb }));
      dataUrls.delete(`${id}/${file}`);
      await sampleUrl(id, file);
      out.push({ prompt: s.prompt, seed: s.seed, file });
    }
    return out;
  }

  function spec(r: RunRecord): TuneSpec {
    const st = r.run.settings;
    return {
      manifest: r.manifest,
      runDir: path.join(runFolder(r.run.id), 'engine'),
      images: r.images,
      steps: st.steps,
      batchSize: st.batchSize,
      lr: st.lr,
      warmupSteps: st.warmupSteps,
      saveEvery: st.saveEvery,
      seed: st.seed,
      captionDropout: st.captionDropout,
      optimizer: st.mode === 'full' ? 'came' : 'adamw',
      mode: st.mode,
      loraRank: st.loraRank,
      loraAlpha: st.loraAlpha,
      validationFraction: st.validationFraction,
      previewPrompts: st.previewPrompts,
      previewSeeds: st.previewPrompts.map(() => st.previewSeed),
      minImages: o.minImages ?? MIN_TUNING_IMAGES,
      resume: true,
    };
  }

  async function runOne(r: RunRecord): Promise<void> {
    const id = r.run.id;
    current = { id, cancelRequested: false };
    r.run.status = 'running';
    r.run.error = null;
    await changed(r);
    // Event handling that writes files, kept in order and awaited before the run's end is recorded.
    let pending = Promise.resolve();
    const queueWrite = (work: () => Promise<void>) => {
      pending = pending.then(work).catch((error: unknown) => o.log?.(`tuning: ${id}: ${String(error)}`));
    };
    const onEvent = (e: TuneEventMessage): void => {
      const run = r.run;
      if (e.type === 'phase') {
        run.phase = e.phase;
        queueWrite(() => changed(r));
      } else if (e.type === 'progress') {
        // A resumed run repeats no step: its curve continues where the last save was.
        run.losses.length = e.step - 1;
        run.lrs.length = e.step - 1;
        run.losses.push(e.loss);
        run.lrs.push(e.lr);
        run.step = e.step;
        run.secondsPerStep = run.secondsPerStep === null ? e.secondsPerStep : 0.8 * run.secondsPerStep + 0.2 * e.secondsPerStep;
        run.etaSeconds = run.secondsPerStep * Math.max(0, run.settings.steps - e.step);
        o.emit('onTuningStep', { id, step: e.step, loss: e.loss, lr: e.lr, secondsPerStep: e.secondsPerStep, etaSeconds: run.etaSeconds });
      } else if (e.type === 'startValidation') {
        run.startValidationLoss = e.loss;
        queueWrite(() => changed(r));
      } else if (e.type === 'baseSamples') {
        queueWrite(async () => {
          run.baseSamples = await writeSamples(id, 'base', e);
          await changed(r);
        });
      } else {
        queueWrite(async () => {
          const samples = await writeSamples(id, `step-${e.step}`, e);
          const earlier = [run.startValidationLoss, ...run.checkpoints.map((c) => c.validationLoss)].filter((v): v is number => v !== null);
          const best = earlier.length ? Math.min(...earlier) : null;
          const overfitting = e.validationLoss !== null && best !== null && e.validationLoss > best * OVERFIT_RATIO;
          run.checkpoints = run.checkpoints.filter((c) => c.step !== e.step);
          run.checkpoints.push({ step: e.step, trainLoss: e.trainLoss, validationLoss: e.validationLoss, overfitting, samples });
          await changed(r);
        });
      }
    };
    try {
      const result = await o.engine.tune(id, spec(r), onEvent);
      await pending;
      r.run.step = result.step;
      if (r.run.startValidationLoss === null) r.run.startValidationLoss = result.startValidationLoss;
      r.run.status = result.cancelled ? 'cancelled' : 'done';
    } catch (error) {
      await pending;
      // EngineHostError / ApiError codes (E_INVALID_ARGUMENT for a bad image, ENGINE_CRASHED, ...).
      const raw = (error as { code?: unknown }).code;
      const code = typeof raw === 'string' ? raw : 'INTERNAL';
      r.run.status = current?.cancelRequested ? 'cancelled' : 'failed';
      r.run.error = r.run.status === 'failed' ? { code, message: error instanceof Error ? error.message : String(error) } : null;
    }
    r.run.phase = 'finished';
    r.run.etaSeconds = null;
    current = undefined;
    await changed(r);
  }

  /** Set when work arrives while the loop is finishing: it looks again once it has ended. */
  let again = false;
  function wake(): void {
    if (loop) {
      again = true;
      return;
    }
    again = false;
    loop = (async () => {
      await ready;
      for (;;) {
        const next = [...records.values()]
          .filter((r) => r.run.status === 'queued')
          .sort((a, b) => a.run.createdAt.localeCompare(b.run.createdAt))[0];
        if (!next) return;
        await runOne(next);
      }
    })()
      .catch((error: unknown) => o.log?.(`tuning: the queue stopped: ${String(error)}`))
      .finally(() => {
        loop = undefined;
        if (again) wake();
      });
  }

  ready = load().then(
    () => wake(),
    (error: unknown) => o.log?.(`tuning: cannot read ${runsFolder}: ${String(error)}`),
  );

  async function datasetFor(source: DatasetSource, model: string) {
    const manifest = await o.manifestFor(model);
    const m = { manifest, resolution: await manifestResolution(manifest) };
    let entries;
    try {
      entries = await collectDataset(source, o.gallery());
    } catch (error) {
      throw new ApiError('INVALID_PARAMS', `the dataset cannot be read: ${error instanceof Error ? error.message : String(error)}`);
    }
    const checked = await checkDataset(entries, m.resolution, o.minImages ?? MIN_TUNING_IMAGES);
    return { entries, ...checked, model: m };
  }

  return {
    async dataset(source, model) {
      const d = await datasetFor(source, model);
      return { items: d.items, problems: d.problems, resolution: d.model.resolution };
    },
    async start(source, captions, settings) {
      await ready;
      const id = randomUUID();
      const d = await datasetFor(source, settings.model);
      if (d.problems.length > 0) {
        throw new ApiError('DATASET_INVALID', d.problems.map((p) => p.message).join('; '));
      }
      const r: RunRecord = {
        run: {
          id,
          status: 'queued',
          settings,
          images: d.entries.length,
          createdAt: new Date().toISOString(),
          step: 0,
          error: null,
          phase: 'waiting',
          losses: [],
          lrs: [],
          secondsPerStep: null,
          etaSeconds: null,
          startValidationLoss: null,
          baseSamples: [],
          checkpoints: [],
        },
        images: d.entries.map((e) => ({ file: e.file, caption: captionFor(e, captions.edits, captions.trigger) })),
        manifest: d.model.manifest,
      };
      records.set(id, r);
      await changed(r);
      wake();
      return view(r);
    },
    list: () => [...records.values()].map(view).sort((a, b) => b.createdAt.localeCompare(a.createdAt)),
    get: (id) => view(record(id)),
    cancel(id) {
      const r = record(id);
      if (r.run.status === 'queued') {
        r.run.status = 'cancelled';
        r.run.phase = 'finished';
        void changed(r).catch(logged(id));
      } else if (r.run.status === 'running' && current?.id === id) {
        current.cancelRequested = true;
        o.engine.cancel(id);
      } else {
        throw new ApiError('CONFLICT', `run ${id} is ${r.run.status}`);
      }
      return view(r);
    },
    resume(id) {
      const r = record(id);
      if (r.run.status === 'running' || r.run.status === 'queued') throw new ApiError('CONFLICT', `run ${id} is ${r.run.status}`);
      if (r.run.status === 'done' && r.run.step >= r.run.settings.steps) throw new ApiError('CONFLICT', `run ${id} is complete`);
      r.run.status = 'queued';
      r.run.phase = 'waiting';
      r.run.error = null;
      void changed(r).catch(logged(id));
      wake();
      return view(r);
    },
    async useCheckpoint(id, step, name) {
      const r = record(id);
      if (!r.run.checkpoints.some((c) => c.step === step)) throw new ApiError('NOT_FOUND', `run ${id} has no checkpoint at step ${step}`);
      const src = path.join(runFolder(id), 'engine', 'checkpoints', `step-${String(step).padStart(6, '0')}.safetensors`);
      const vid = randomUUID();
      await fs.mkdir(variantsFolder, { recursive: true });
      const file = path.join(variantsFolder, `${vid}.safetensors`);
      await fs.copyFile(src, file);
      const hash = await sha256File(file);
      const v: Variant = {
        id: vid,
        name,
        model: r.run.settings.model,
        kind: r.run.settings.mode,
        runId: id,
        step,
        hash: `sha256:${hash.sha256}`,
        createdAt: new Date().toISOString(),
      };
      variants = [...variants, v];
      await serialised(variantsFile, () => JSON.stringify(variants, null, 2));
      o.emit('onVariantsChanged', { variants });
      return v;
    },
    variants: () => variants,
    variantFile(id) {
      const variant = variants.find((v) => v.id === id);
      if (!variant) throw new ApiError('NOT_FOUND', `no model variant ${id}`);
      return { file: path.join(variantsFolder, `${id}.safetensors`), variant };
    },
    async idle() {
      await ready;
      while (loop) await loop;
    },
  };
}
