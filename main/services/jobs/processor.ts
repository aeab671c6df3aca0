// The processor loop: claims the next queued job (atomically, through the store), loads its
// model on the engine host, runs it, saves each image through the ImageSink and records the
// outcome, emitting the job events on the way. The store is the truth; this loop holds only
// the job it is running, so stopping it anywhere loses nothing (a running job is requeued at
// the next start).
import { randomInt } from 'node:crypto';
import type { z } from 'zod';
import type { jobsEvents } from '../../api/jobs.js';
import type { EngineHost, PreviewMessage, ProgressMessage } from '../../engine-host/host.js';
import { ApiError } from '../../api/errors.js';
import { EngineHostError } from '../../engine-host/errors.js';
import type { EngineRecipe, ModelInfo } from '../../engine-host/protocol.js';
import { encodePng } from '../images/png.js';
import { makeImageRecipe, type ImageRecipe } from '../images/recipe-chunks.js';
import type { ImageSink } from './image-sink.js';
import type { Job, JobStore } from './jobs.js';

export type JobEventName = keyof typeof jobsEvents;
export type JobEventPayload<E extends JobEventName> = z.output<(typeof jobsEvents)[E]>;
export type JobEmit = <E extends JobEventName>(event: E, payload: JobEventPayload<E>) => void;

/** The part of the EngineHost the loop uses (tests may pass their own). */
export type JobEngine = Pick<EngineHost, 'ensureModel' | 'run' | 'cancel'>;

export interface ProcessorOptions {
  store: JobStore;
  engine: JobEngine;
  /** Where finished images go; while absent, jobs wait in the queue (none is lost). */
  sink?: ImageSink;
  emit: JobEmit;
  /** Attempts a job gets when the engine crashes under it: 1 = fail at once, 2 = retry once.
   * Read when a job fails, so a change in settings applies to the running queue. */
  crashAttempts?: () => number;
  /** At most one preview event per job per this many ms; the rest are dropped. */
  previewIntervalMs?: number;
  /** Sampler previews every k steps (0: none). */
  previewEvery?: () => number;
  engineInfo?: () => { version: string; backend: string };
  /** Turns a recipe's `model` (a registered model's id or a manifest path) into the manifest to
   *  load; default: the path as given. Its ApiError codes become the job's error code. */
  resolveModel?: (ref: string) => Promise<string>;
  /** A model variant's file and hash (the tuning service); its ApiError codes become the job's. */
  resolveAdapter?: (id: string) => { file: string; hash: string };
  now?: () => Date;
  log?: (message: string) => void;
}

export class JobProcessor {
  private loop: Promise<void> | undefined;
  private current: { id: string; cancelRequested: boolean } | undefined;
  private stopped = false;
  /** Previews dropped by the rate limit (back-pressure), for the benchmarks. */
  droppedPreviews = 0;

  constructor(private readonly o: ProcessorOptions) {}

  private now(): string {
    return (this.o.now?.() ?? new Date()).toISOString();
  }

  /** Starts the loop if there is work and the queue is not paused. */
  wake(): void {
    if (this.loop || this.stopped || !this.o.sink || this.o.store.paused()) return;
    let failed = false;
    this.loop = this.drain()
      // The store failing (disk full, database locked past its timeout) must not become an
      // unhandled rejection or a busy retry loop; the queue stays as recorded and the next
      // wake (a new job, resume) tries again.
      .catch((error: unknown) => {
        failed = true;
        this.o.log?.(`jobs: the queue loop stopped: ${String(error)}`);
      })
      .finally(() => {
        this.loop = undefined;
        // Work may have arrived (or the queue resumed) while the last job finished.
        if (!failed && !this.stopped && this.hasQueued()) this.wake();
      });
  }

  private hasQueued(): boolean {
    try {
      return !this.o.store.paused() && this.o.store.list({ statuses: ['queued'], limit: 1 }).length > 0;
    } catch {
      return false;
    }
  }

  /** Resolves when the loop has nothing left to do (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  stop(): void {
    this.stopped = true;
  }

  get runningId(): string | undefined {
    return this.current?.id;
  }

  /** Cancels the running job (effective before the engine's next model call). */
  cancelRunning(id: string): boolean {
    if (this.current?.id !== id) return false;
    this.current.cancelRequested = true;
    this.o.engine.cancel(id);
    return true;
  }

  private async drain(): Promise<void> {
    while (!this.stopped && !this.o.store.paused()) {
      const job = this.o.store.claimNext(this.now());
      if (!job) return;
      this.current = { id: job.id, cancelRequested: false };
      try {
        await this.runJob(job);
      } catch (error) {
        // A bug in this loop must not stall the queue: fail the job and go on.
        this.o.log?.(`jobs: ${job.id} failed unexpectedly: ${String(error)}`);
        this.finishFailed(job, { code: 'INTERNAL', message: String(error) }, false);
      } finally {
        this.current = undefined;
      }
    }
  }

  private async runJob(job: Job): Promise<void> {
    const { store, emit } = this.o;
    let seed = job.recipe.seed;
    if (seed === undefined) {
      // Chosen now and recorded, so a requeued job makes the same images.
      seed = String(randomInt(0, 2 ** 32));
      store.setSeed(job.id, seed);
    }
    emit('onJobStarted', { id: job.id, seed, attempt: job.attempts });
    emit('onJobProgress', { id: job.id, stage: 'loading', image: 0, count: job.count, step: 0, steps: 0, etaSeconds: null });
    const r = job.recipe;
    let model: ModelInfo;
    let adapter: { id: string; hash: string; weight: number; file: string } | undefined;
    let result;
    try {
      const manifest = this.o.resolveModel ? await this.o.resolveModel(r.model) : r.model;
      if (this.current?.cancelRequested) throw new EngineHostError('E_CANCELLED', 'cancelled');
      adapter = r.adapter ? this.adapterOf(r.adapter) : undefined;
      model = await this.o.engine.ensureModel(manifest, 'bf16', adapter ? { path: adapter.file, strength: adapter.weight } : undefined);
      if (this.current?.cancelRequested) throw new EngineHostError('E_CANCELLED', 'cancelled');
      const engineRecipe: EngineRecipe = {
        prompt: r.prompt,
        negativePrompt: r.negativePrompt,
        seed,
        steps: r.steps,
        guidance: r.guidance,
        sampler: r.sampler,
        width: r.width,
        height: r.height,
        count: job.count,
        previewEvery: this.o.previewEvery?.() ?? 0,
      };
      result = await this.o.engine.run(job.id, engineRecipe, {
        onProgress: this.progressReporter(job),
        onPreview: this.previewReporter(job),
      });
    } catch (error) {
      const e =
        error instanceof EngineHostError || error instanceof ApiError ? error : new EngineHostError('E_INTERNAL', String(error));
      if (e.code === 'E_CANCELLED') {
        store.finish(job.id, 'cancelled', {}, this.now());
        emit('onJobCancelled', { id: job.id });
        return;
      }
      const retry = e.code === 'ENGINE_CRASHED' && job.attempts < (this.o.crashAttempts?.() ?? 1);
      this.finishFailed(job, { code: e.code, message: e.message }, retry);
      return;
    }
    const imageIds: string[] = [];
    const t = result.times;
    try {
      for (const image of result.images) {
        imageIds.push(
          await this.o.sink!.save({
            width: image.width,
            height: image.height,
            rgb: image.rgb,
            recipe: imageRecipe(job, model, image.seed, this.o.engineInfo?.(), adapter),
            durationMs: Math.round(((t.text + t.sampling + t.decode) / result.images.length) * 1000),
          }),
        );
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      store.finish(job.id, 'failed', { error: { code: 'SAVE_FAILED', message }, imageIds }, this.now());
      emit('onJobFailed', { id: job.id, error: { code: 'SAVE_FAILED', message }, willRetry: false });
      return;
    }
    store.finish(job.id, 'done', { imageIds }, this.now());
    emit('onJobDone', { id: job.id, imageIds });
  }

  private adapterOf(a: { id: string; strength: number }): { id: string; hash: string; weight: number; file: string } {
    if (!this.o.resolveAdapter) throw new ApiError('NOT_FOUND', `no model variant ${a.id}`);
    const { file, hash } = this.o.resolveAdapter(a.id);
    return { id: a.id, hash, weight: a.strength, file };
  }

  private finishFailed(job: Job, error: { code: string; message: string }, retry: boolean): void {
    if (retry) this.o.store.requeue(job.id, 'front');
    else this.o.store.finish(job.id, 'failed', { error }, this.now());
    this.o.emit('onJobFailed', { id: job.id, error, willRetry: retry });
  }

  /** Progress with an ETA from the measured sampling rate (steps after the first, which warms caches). */
  private progressReporter(job: Job): (p: ProgressMessage) => void {
    let t0 = 0;
    let done0 = 0;
    return (p) => {
      const total = p.steps * p.count;
      const done = p.image * p.steps + p.step;
      let eta: number | null = null;
      if (p.stage === 'sampling') {
        const t = performance.now();
        if (t0 === 0) {
          t0 = t;
          done0 = done;
        } else if (done > done0) {
          eta = (((t - t0) / (done - done0)) * (total - done)) / 1000;
        }
      }
      this.o.emit('onJobProgress', { id: job.id, stage: p.stage, image: p.image, count: p.count, step: p.step, steps: p.steps, etaSeconds: eta });
    };
  }

  private previewReporter(job: Job): (p: PreviewMessage) => void {
    let last = -Infinity;
    const interval = this.o.previewIntervalMs ?? 250;
    return (p) => {
      const t = performance.now();
      if (t - last < interval) {
        this.droppedPreviews++;
        return;
      }
      last = t;
      const png = encodePng({ width: p.width, height: p.height, rgb: p.rgb });
      this.o.emit('onJobPreview', { id: job.id, image: p.image, step: p.step, dataUrl: `data:image/png;base64,${png.toString('base64')}` });
    };
  }
}

function imageRecipe(
  job: Job,
  model: ModelInfo,
  seed: string,
  engine = { version: 'unknown', backend: 'cpu' },
  adapter?: { id: string; hash: string; weight: number },
): ImageRecipe {
  const r = job.recipe;
  const d = model.defaults;
  const settings = {
    prompt: r.prompt,
    negativePrompt: r.negativePrompt,
    steps: r.steps ?? d.steps,
    guidance: r.guidance ?? d.guidance,
    sampler: r.sampler ?? d.sampler,
    width: r.width ?? d.width,
    height: r.height ?? d.height,
  };
  return makeImageRecipe(settings, model, BigInt(seed), engine, adapter);
}
