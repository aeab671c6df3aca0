// The native engine as TypeScript sees it: the addon's exports with their types, loaded once.
// Engine failures arrive as NativeEngineError with the engine's code (E_BAD_FILE, ...), so
// callers branch on codes, never on message text. Only the engine process and the CLI load
// this module; the main process of the app never does (see ../engine-host/).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { appRoot } from '../runtime/paths.js';

export type EngineErrorCode =
  | 'E_INVALID_ARGUMENT'
  | 'E_BAD_FILE'
  | 'E_UNSUPPORTED_FORMAT'
  | 'E_MODEL_MISMATCH'
  | 'E_IO'
  | 'E_OUT_OF_MEMORY'
  | 'E_CANCELLED'
  | 'E_BACKEND_UNAVAILABLE'
  | 'E_INTERNAL'
  | 'E_ADDON_MISSING';

export class NativeEngineError extends Error {
  override readonly name = 'NativeEngineError';
  constructor(
    readonly code: EngineErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type WeightDtype = 'f32' | 'bf16' | 'f16';

export interface CompareLine {
  name: string;
  relErr: number;
  tol: number;
  pass: boolean;
}

export interface VerifyReport {
  kind: string;
  lines: CompareLine[];
  pass: boolean;
}

/** Weights the pipeline loads Dimba and the VAE in (f16 overflows in T5 and the VAE). */
export type PipelineWeights = 'bf16' | 'f32';
export type SamplerName = 'dpm++2m' | 'ddim' | 'euler';

export interface RecipeDefaults {
  steps: number;
  guidance: number;
  sampler: string;
  width: number;
  height: number;
}

/** A loaded model (native/src/addon/pipeline_bindings.cpp); its weights live while it is held. */
export interface PipelineHandle {
  readonly id: string;
  readonly name: string;
  /** fnv1a64 of the manifest's bytes: part of every recipe this model makes. */
  readonly manifestHash: string;
  readonly tokenizerHash: string;
  readonly t5WeightsId: string;
  readonly weights: PipelineWeights;
  readonly resolution: number;
  /** Width and height must be multiples of this (VAE downscale x patch size). */
  readonly sizeMultiple: number;
  readonly defaults: RecipeDefaults;
  /** Where the models run and why (addons with backend selection; absent in older builds). */
  readonly backend?: string;
  readonly backendReason?: string;
}

/** One compute backend as the engine found it (native/src/backend/select.h). */
export interface NativeBackendProbe {
  name: string;
  available: boolean;
  /** `auto` takes it over the CPU backend (a GPU; a CPU Vulkan driver is available, not preferred). */
  preferred: boolean;
  detail: string;
}

export type BackendName = 'auto' | 'cpu' | 'vulkan' | 'cuda';

/** What one generation asks for; fields left out take the manifest's defaults. */
export interface GenerateRecipe {
  prompt: string;
  negativePrompt?: string;
  /** Image k of `count` uses seed + k; a bigint reaches the whole 64-bit range. */
  seed?: number | bigint;
  steps?: number;
  guidance?: number;
  sampler?: SamplerName;
  width?: number;
  height?: number;
  count?: number;
  /** A latent-resolution preview every k sampler steps; 0 or absent: none. */
  previewEvery?: number;
}

export interface RgbImage {
  width: number;
  height: number;
  /** height * width * 3 bytes, row-major, interleaved RGB. */
  rgb: Buffer;
}

export interface GeneratedImage extends RgbImage {
  seed: number | bigint;
}

export type GenerateStage = 'text' | 'sampling' | 'decoding';

export interface GenerateProgress {
  stage: GenerateStage;
  image: number;
  count: number;
  /** 1..steps during sampling, else 0. */
  step: number;
  steps: number;
  preview?: RgbImage;
}

export interface StageTimes {
  text: number;
  sampling: number;
  decode: number;
}

export interface GenerateResult {
  images: GeneratedImage[];
  /** Seconds per stage, summed over the images. */
  times: StageTimes;
}

interface NativeJob {
  promise: Promise<GenerateResult>;
  cancel(): void;
}

export type ModelArchitecture = 'dimba' | 't5' | 'vae' | 'unknown';

/** One tensor as a checkpoint's header describes it. */
export interface InspectedTensor {
  name: string;
  /** The engine's dtype name: F32, F16, BF16, F64, I64, I32, U8. */
  dtype: string;
  shape: number[];
  bytes: number;
}

/** What inspectCheckpoint found (native/src/models/inspect.h); headers only, no tensor data read. */
export interface CheckpointInspection {
  tensors: InspectedTensor[];
  totalBytes: number;
  /** The architecture whose expected tensor names the file matches best. */
  kind: ModelArchitecture;
  /** Expected names present with the expected shape, of `expected`. */
  matched: number;
  expected: number;
  missing: string[];
  unexpected: string[];
  /** "name: got [a, b], expected [c, d]" */
  wrongShape: string[];
  /** A known kind with nothing missing, unexpected or mis-shaped. */
  ok: boolean;
}

/** A Dimba network loaded on its own (native/src/addon/dimba_bindings.cpp). */
export interface DimbaHandle {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly captionChannels: number;
  readonly patchSize: number;
  /** Where the network runs and why (builds with backend selection). */
  readonly backend?: string;
  readonly backendReason?: string;
}

/** One forward pass: x [B, in, H, W], t [B], y [B, 1, L, caption], mask [B, L] (1 keeps). */
export interface DimbaInputs {
  x: Float32Array;
  t: Float32Array;
  y: Float32Array;
  mask?: Float32Array;
  batch: number;
  height: number;
  width: number;
  textLength: number;
}

/** The addon's exports exactly as native/src/addon/addon.cpp and its *_bindings.cpp define them. */
interface DimbaAddon {
  verifyGolden(dir: string, caseName: string, options?: { weights?: WeightDtype; backend?: BackendName }): Promise<VerifyReport>;
  loadPipeline(manifestPath: string, options?: { weights?: PipelineWeights; t5Int8?: boolean; backend?: BackendName }): Promise<PipelineHandle>;
  /** Builds with backend selection only (native/src/addon/backend_bindings.cpp). */
  backends?(): NativeBackendProbe[];
  releasePipeline(handle: PipelineHandle): void;
  generate(handle: PipelineHandle, recipe: GenerateRecipe, onProgress?: (progress: GenerateProgress) => void): NativeJob;
  inspectCheckpoint(path: string, options?: { config?: string }): Promise<CheckpointInspection>;
  loadDimba(configPath: string, weightsPath: string, options?: { weights?: WeightDtype; backend?: BackendName }): Promise<DimbaHandle>;
  dimbaForward(handle: DimbaHandle, inputs: DimbaInputs): Promise<Float32Array>;
}

/** Where the build puts the addon; packaged apps keep it unpacked beside app.asar. */
export function addonPath(root = appRoot): string {
  return path.join(root.replace(/app\.asar$/, 'app.asar.unpacked'), 'build', 'addon', 'Release', 'dimba_addon.node');
}

const ENGINE_CODES = new Set<string>([
  'E_INVALID_ARGUMENT',
  'E_BAD_FILE',
  'E_UNSUPPORTED_FORMAT',
  'E_MODEL_MISMATCH',
  'E_IO',
  'E_OUT_OF_MEMORY',
  'E_CANCELLED',
  'E_BACKEND_UNAVAILABLE',
  'E_INTERNAL',
]);

/** Turns whatever the addon threw into a NativeEngineError; other errors pass through. */
export function asEngineError(error: unknown): unknown {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string' && ENGINE_CODES.has(error.code)) {
    return new NativeEngineError(error.code as EngineErrorCode, error.message);
  }
  return error;
}

let loaded: DimbaAddon | undefined;

export function loadAddon(file = addonPath()): DimbaAddon {
  if (loaded) return loaded;
  if (!existsSync(file)) {
    throw new NativeEngineError('E_ADDON_MISSING', `the native engine is not built (${file}); run \`npm run build:native\``);
  }
  const require = createRequire(import.meta.url);
  loaded = require(file) as DimbaAddon;
  return loaded;
}

/** `backend`: where the model cases run (cpu when left out); sampler and tokenizer cases are host code. */
export async function verifyGolden(
  dir: string,
  caseName: string,
  weights: WeightDtype = 'f32',
  backend?: BackendName,
): Promise<VerifyReport> {
  try {
    return await loadAddon().verifyGolden(dir, caseName, backend === undefined ? { weights } : { weights, backend });
  } catch (error) {
    throw asEngineError(error);
  }
}

/**
 * What a checkpoint file or folder holds and which architecture it is, from headers only
 * (fast for 10 GB files). `config`: the model's config JSON; a folder's config.json is used
 * when left out, else the release defaults (Dimba-L/2, T5-v1.1-XXL, SDXL VAE).
 */
/**
 * Loads a Dimba network from a config JSON (the golden format) and its weights file, on
 * `backend` (auto: a GPU when there is one, else the CPU); an unavailable backend rejects
 * with E_BACKEND_UNAVAILABLE.
 */
export async function loadDimba(
  configPath: string,
  weightsPath: string,
  weights: WeightDtype = 'f32',
  backend: BackendName = 'auto',
): Promise<DimbaHandle> {
  try {
    return await loadAddon().loadDimba(configPath, weightsPath, { weights, backend });
  } catch (error) {
    throw asEngineError(error);
  }
}

/** out [B, out_channels, H, W], computed off the JS thread. */
export async function dimbaForward(handle: DimbaHandle, inputs: DimbaInputs): Promise<Float32Array> {
  try {
    return await loadAddon().dimbaForward(handle, inputs);
  } catch (error) {
    throw asEngineError(error);
  }
}

export async function inspectCheckpoint(file: string, options: { config?: string } = {}): Promise<CheckpointInspection> {
  try {
    return await loadAddon().inspectCheckpoint(file, options);
  } catch (error) {
    throw asEngineError(error);
  }
}

export interface LoadPipelineOptions {
  weights?: PipelineWeights;
  /** T5 weights quantised to int8 at load (XXL: 4.8 GB instead of 9.5 GB). */
  t5Int8?: boolean;
  /** Where the models run; builds without backend selection run on the CPU and ignore it. */
  backend?: BackendName;
}

/** The backends this engine build and machine offer; null from a build without backend selection. */
export function probeBackends(): NativeBackendProbe[] | null {
  const addon = loadAddon();
  if (typeof addon.backends !== 'function') return null;
  try {
    return addon.backends();
  } catch (error) {
    throw asEngineError(error);
  }
}

/** Loads every part a model manifest names (minutes and gigabytes for the reference release). */
export async function loadPipeline(manifestPath: string, options: LoadPipelineOptions = {}): Promise<PipelineHandle> {
  try {
    return await loadAddon().loadPipeline(manifestPath, options);
  } catch (error) {
    throw asEngineError(error);
  }
}

/** Frees the model's memory now rather than at garbage collection; running jobs finish first. */
export function releasePipeline(handle: PipelineHandle): void {
  try {
    loadAddon().releasePipeline(handle);
  } catch (error) {
    throw asEngineError(error);
  }
}

/** A running generation: `cancel()` stops it before the next model call (E_CANCELLED). */
export interface GenerateJob {
  readonly result: Promise<GenerateResult>;
  cancel(): void;
}

export interface GenerateOptions {
  onProgress?: (progress: GenerateProgress) => void;
  /** Aborting it cancels the job, like cancel(). */
  signal?: AbortSignal;
}

export function generate(handle: PipelineHandle, recipe: GenerateRecipe, options: GenerateOptions = {}): GenerateJob {
  let job: NativeJob;
  try {
    job = loadAddon().generate(handle, recipe, options.onProgress);
  } catch (error) {
    // Argument errors are thrown at the call; surface them through the promise like the rest.
    const failed = Promise.reject(asEngineError(error));
    return { result: failed, cancel: () => undefined };
  }
  const { signal } = options;
  const onAbort = () => job.cancel();
  if (signal) {
    if (signal.aborted) job.cancel();
    else signal.addEventListener('abort', onAbort, { once: true });
  }
  const result = job.promise.then(
    (r) => r,
    (error: unknown) => {
      throw asEngineError(error);
    },
  );
  void result.finally(() => signal?.removeEventListener('abort', onAbort)).catch(() => undefined);
  return { result, cancel: () => job.cancel() };
}
