// The addon's quality-tuning call (native/src/addon/tuning_bindings.cpp) with its types: a run
// on the libuv pool that reports its phase, every step's loss, the base model's samples and
// each checkpoint (variant file, validation loss, samples) as events. Kept apart from addon.ts
// so the tuning surface is one file; an addon built before tuning existed says so by code.
import { asEngineError, loadAddon, NativeEngineError, type LoadPipelineOptions, type PipelineHandle } from './addon.js';

export interface TuneImage {
  /** height * width * 3 bytes, 8-bit RGB. */
  rgb: Uint8Array;
  width: number;
  height: number;
  caption: string;
}

export interface TuneOptions {
  manifest: string;
  runDir: string;
  images: TuneImage[];
  steps: number;
  batchSize?: number;
  lr?: number;
  warmupSteps?: number;
  saveEvery?: number;
  seed?: number;
  captionDropout?: number;
  optimizer?: 'came' | 'adamw';
  mode?: 'lora' | 'full';
  loraRank?: number;
  loraAlpha?: number;
  loraTargets?: string[];
  validationFraction?: number;
  previewPrompts?: string[];
  previewSeeds?: number[];
  previewSteps?: number;
  previewGuidance?: number;
  resume?: boolean;
  minImages?: number;
}

export interface TuneSample {
  prompt: string;
  seed: number;
  width: number;
  height: number;
  rgb: Uint8Array;
}

export interface TuneCheckpointInfo {
  step: number;
  /** The variant file (a LoRA adapter, or a full fine-tune's weights). */
  path: string;
  trainLoss: number;
  validationLoss: number | null;
}

export type TunePhase = 'preparing' | 'training' | 'sampling';

export type TuneEvent =
  | { type: 'phase'; phase: TunePhase; done: number; total: number }
  | { type: 'progress'; step: number; loss: number; lr: number; gradNorm: number; secondsPerStep: number }
  | { type: 'baseSamples'; samples: TuneSample[] }
  | { type: 'startValidation'; loss: number }
  | ({ type: 'checkpoint'; samples: TuneSample[] } & TuneCheckpointInfo);

export interface TuneResult {
  step: number;
  resumedFrom: number;
  cancelled: boolean;
  trainImages: number;
  validationImages: number;
  startValidationLoss: number | null;
  checkpoints: TuneCheckpointInfo[];
}

export interface TuneJob {
  readonly result: Promise<TuneResult>;
  /** Stops at the end of the current step or sample; the result then says cancelled. */
  cancel(): void;
}

interface TuningAddon {
  loadPipeline(manifestPath: string, options: LoadPipelineOptions & { adapter: { path: string; strength: number } }): Promise<PipelineHandle>;
  tune?(options: TuneOptions, onEvent?: (event: TuneEvent) => void): { promise: Promise<TuneResult>; cancel(): void };
}

export function tune(options: TuneOptions, onEvent?: (event: TuneEvent) => void): TuneJob {
  let job: { promise: Promise<TuneResult>; cancel(): void };
  try {
    const addon = loadAddon() as unknown as TuningAddon;
    if (typeof addon.tune !== 'function') {
      throw new NativeEngineError('E_ADDON_MISSING', 'this engine build has no tuning; run `npm run build:native`');
    }
    job = addon.tune(options, onEvent);
  } catch (error) {
    return { result: Promise.reject(asEngineError(error)), cancel: () => undefined };
  }
  const result = job.promise.catch((error: unknown) => {
    throw asEngineError(error);
  });
  return { result, cancel: () => job.cancel() };
}

/** loadPipeline with a tuning variant (native/src/tuning/variant.h) merged at `strength` (0..2). */
export async function loadVariantPipeline(
  manifestPath: string,
  options: LoadPipelineOptions & { adapter: { path: string; strength: number } },
): Promise<PipelineHandle> {
  try {
    return await (loadAddon() as unknown as TuningAddon).loadPipeline(manifestPath, options);
  } catch (error) {
    throw asEngineError(error);
  }
}
