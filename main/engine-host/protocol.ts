// The messages between the engine host (main process) and the engine process. Both sides are
// ours, but the engine process runs native code that may misbehave, so the host validates every
// message it receives (zod) and treats a malformed one like a crash. Images travel as Uint8Array:
// both carriers (child_process with `serialization: 'advanced'`, Electron's utilityProcess) use
// structured clone, so pixels are copied once, never base64-encoded.
import { z } from 'zod';
import { tuneEngineMessages, type TuneSpec } from './tuning-protocol.js';

export const SAMPLERS = ['dpm++2m', 'ddim', 'euler'] as const;
export const STAGES = ['text', 'sampling', 'decoding'] as const;

/** A recipe as the engine takes it; fields left out take the model manifest's defaults. */
export const engineRecipeSchema = z
  .object({
    prompt: z.string(),
    negativePrompt: z.string().optional(),
    /** A decimal string: seeds reach 2^64, beyond what a JS number holds exactly. */
    seed: z.string().regex(/^\d{1,20}$/),
    steps: z.number().int().optional(),
    guidance: z.number().optional(),
    sampler: z.enum(SAMPLERS).optional(),
    width: z.number().int().optional(),
    height: z.number().int().optional(),
    count: z.number().int().min(1),
    previewEvery: z.number().int().min(0),
  })
  .strict();
export type EngineRecipe = z.infer<typeof engineRecipeSchema>;

/** Deliberate crashes, honoured only when the engine process was started with faults enabled. */
export const FAULTS = ['abort', 'segfault', 'oom', 'exit', 'hang'] as const;
export type Fault = (typeof FAULTS)[number];

export type HostMessage =
  /** `backend`: the one the host chose for this process (engines without backend selection run on the CPU). */
  | {
      type: 'load';
      manifest: string;
      weights: 'bf16' | 'f32';
      backend: 'cpu' | 'vulkan' | 'cuda';
      /** A tuning variant merged into the Dimba weights at load. */
      adapter?: { path: string; strength: number };
    }
  | { type: 'unload' }
  | { type: 'generate'; jobId: string; recipe: EngineRecipe }
  /** A quality-tuning run (tuning-protocol.ts); cancelled like a generation, by its jobId. */
  | { type: 'tune'; jobId: string; spec: TuneSpec }
  | { type: 'cancel'; jobId: string }
  /** The host has forwarded the last preview: the engine may send the next one (one credit). */
  | { type: 'previewAck'; jobId: string }
  /** Reads a checkpoint's headers (any format) and compares them with the engine's expected tensors. */
  | { type: 'inspect'; requestId: number; path: string; config?: string }
  | { type: 'fault'; fault: Fault };

const bytes = z.instanceof(Uint8Array);

export const modelInfoSchema = z.object({
  id: z.string(),
  name: z.string(),
  manifestHash: z.string(),
  tokenizerHash: z.string(),
  t5WeightsId: z.string(),
  weights: z.enum(['bf16', 'f32']),
  sizeMultiple: z.number().int().positive(),
  defaults: z.object({
    steps: z.number(),
    guidance: z.number(),
    sampler: z.string(),
    width: z.number(),
    height: z.number(),
  }),
  /** Where the model runs, and why, from engines with backend selection. */
  backend: z.string().optional(),
  backendReason: z.string().optional(),
});
export type ModelInfo = z.infer<typeof modelInfoSchema>;

/** What the engine's inspector found (native/src/models/inspect.h), headers only. */
export const inspectionSchema = z.object({
  tensors: z.array(z.object({ name: z.string(), dtype: z.string(), shape: z.array(z.number().int()), bytes: z.number() })),
  totalBytes: z.number(),
  kind: z.enum(['dimba', 't5', 'vae', 'unknown']),
  matched: z.number().int(),
  expected: z.number().int(),
  missing: z.array(z.string()),
  unexpected: z.array(z.string()),
  wrongShape: z.array(z.string()),
  ok: z.boolean(),
});
export type Inspection = z.infer<typeof inspectionSchema>;

export const engineMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('ready'),
    pid: z.number().int(),
    /** Backends compiled into this engine build, and why any other is missing. */
    backends: z.array(z.object({ name: z.string(), available: z.boolean(), preferred: z.boolean().optional(), detail: z.string() })),
  }),
  z.object({ type: z.literal('loaded'), manifest: z.string(), model: modelInfoSchema }),
  z.object({ type: z.literal('unloaded') }),
  z.object({ type: z.literal('loadFailed'), manifest: z.string(), code: z.string(), message: z.string() }),
  z.object({
    type: z.literal('progress'),
    jobId: z.string(),
    stage: z.enum(STAGES),
    image: z.number().int(),
    count: z.number().int(),
    step: z.number().int(),
    steps: z.number().int(),
  }),
  z.object({
    type: z.literal('preview'),
    jobId: z.string(),
    image: z.number().int(),
    step: z.number().int(),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    rgb: bytes,
  }),
  z.object({
    type: z.literal('done'),
    jobId: z.string(),
    images: z.array(
      z.object({ seed: z.string(), width: z.number().int(), height: z.number().int(), rgb: bytes }),
    ),
    times: z.object({ text: z.number(), sampling: z.number(), decode: z.number() }),
  }),
  z.object({ type: z.literal('failed'), jobId: z.string(), code: z.string(), message: z.string() }),
  z.object({ type: z.literal('inspected'), requestId: z.number().int(), inspection: inspectionSchema }),
  z.object({ type: z.literal('inspectFailed'), requestId: z.number().int(), code: z.string(), message: z.string() }),
  ...tuneEngineMessages,
]);
export type EngineMessage = z.infer<typeof engineMessageSchema>;
