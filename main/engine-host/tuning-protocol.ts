// The tuning messages between the engine host and the engine process (see protocol.ts): the
// host sends a run's spec (image files, not pixels: the engine process decodes them), the
// engine answers with events and, at the end, the result. Validated by the host like every
// engine message.
import { z } from 'zod';

export interface TuneSpec {
  manifest: string;
  runDir: string;
  images: { file: string; caption: string }[];
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  saveEvery: number;
  seed: number;
  captionDropout: number;
  optimizer: 'came' | 'adamw';
  mode: 'lora' | 'full';
  loraRank: number;
  loraAlpha: number;
  loraTargets?: string[];
  validationFraction: number;
  previewPrompts: string[];
  previewSeeds: number[];
  previewSteps?: number;
  minImages: number;
  resume: boolean;
}

const bytes = z.instanceof(Uint8Array);

export const tuneSampleSchema = z.object({
  prompt: z.string(),
  seed: z.number(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  rgb: bytes,
});

const checkpointInfo = {
  step: z.number().int(),
  path: z.string(),
  trainLoss: z.number(),
  validationLoss: z.number().nullable(),
};

export const tuneEventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('phase'),
    phase: z.enum(['preparing', 'training', 'sampling']),
    done: z.number().int(),
    total: z.number().int(),
  }),
  z.object({
    type: z.literal('progress'),
    step: z.number().int(),
    loss: z.number(),
    lr: z.number(),
    gradNorm: z.number(),
    secondsPerStep: z.number(),
  }),
  z.object({ type: z.literal('baseSamples'), samples: z.array(tuneSampleSchema) }),
  z.object({ type: z.literal('startValidation'), loss: z.number() }),
  z.object({ type: z.literal('checkpoint'), ...checkpointInfo, samples: z.array(tuneSampleSchema) }),
]);
export type TuneEventMessage = z.infer<typeof tuneEventSchema>;

export const tuneResultSchema = z.object({
  step: z.number().int(),
  resumedFrom: z.number().int(),
  cancelled: z.boolean(),
  trainImages: z.number().int(),
  validationImages: z.number().int(),
  startValidationLoss: z.number().nullable(),
  checkpoints: z.array(z.object(checkpointInfo)),
});
export type TuneResultMessage = z.infer<typeof tuneResultSchema>;

export const tuneEngineMessages = [
  z.object({ type: z.literal('tuneEvent'), jobId: z.string(), event: tuneEventSchema }),
  z.object({ type: z.literal('tuned'), jobId: z.string(), result: tuneResultSchema }),
] as const;
