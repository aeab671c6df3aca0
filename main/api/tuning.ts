// Quality tuning as the renderer sees it (issue 12): a dataset from a gallery collection, a
// selection or a folder, captions from each image's recipe or written by the user (with an
// optional trigger phrase), a run (LoRA or full fine-tune) queued and resumed across restarts,
// its live loss curve, checkpoints with samples beside the base model's, and the checkpoint the
// user picks becoming a model variant that Generate applies at a strength.
// Imports only zod: main, preload, server and renderer share it.
import { z } from 'zod';

export const TUNING_STATUSES = ['queued', 'running', 'done', 'failed', 'cancelled'] as const;

/** Where the images come from. */
export const datasetSourceSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('collection'), id: z.number().int().positive() }).strict(),
  z.object({ kind: z.literal('selection'), uids: z.array(z.string().min(1).max(64)).min(1).max(10_000) }).strict(),
  z.object({ kind: z.literal('folder'), path: z.string().min(1).max(4096) }).strict(),
]);
export type DatasetSource = z.output<typeof datasetSourceSchema>;

/** One image of a dataset: `key` is a gallery uid or a file name in the folder. */
export const datasetItemSchema = z.object({
  key: z.string(),
  name: z.string(),
  /** The caption its recipe gives (the prompt), '' when it has none. */
  recipeCaption: z.string(),
  width: z.number().int().nullable(),
  height: z.number().int().nullable(),
});
export type DatasetItem = z.output<typeof datasetItemSchema>;

export const DATASET_PROBLEMS = ['TOO_FEW_IMAGES', 'UNREADABLE_IMAGE', 'IMAGE_TOO_SMALL', 'EMPTY_SOURCE'] as const;
export const datasetProblemSchema = z.object({
  code: z.enum(DATASET_PROBLEMS),
  /** The image it is about, if one. */
  key: z.string().nullable(),
  message: z.string(),
});
export type DatasetProblem = z.output<typeof datasetProblemSchema>;

export const captionsSchema = z
  .object({
    /** Per image key, what the user wrote; absent keys take the recipe's caption. */
    edits: z.record(z.string().max(1000), z.string().max(2000)).default({}),
    /** Put first in every caption ("trigger, caption"); '' for none. */
    trigger: z.string().max(200).default(''),
  })
  .strict();

export const tuningSettingsSchema = z
  .object({
    name: z.string().min(1).max(200),
    /** A registered model's id (the built-in one included). */
    model: z.string().min(1).max(4096),
    mode: z.enum(['lora', 'full']).default('lora'),
    loraRank: z.number().int().min(1).max(256).default(8),
    loraAlpha: z.number().positive().max(1024).default(8),
    steps: z.number().int().min(1).max(100_000).default(500),
    batchSize: z.number().int().min(1).max(64).default(4),
    /** LoRA's usual 1e-4; the paper's full fine-tune uses 2e-5 with CAME. */
    lr: z.number().positive().max(1).default(1e-4),
    warmupSteps: z.number().int().min(0).max(100_000).default(20),
    saveEvery: z.number().int().min(1).max(100_000).default(100),
    captionDropout: z.number().min(0).max(1).default(0.1),
    seed: z.number().int().min(0).max(2 ** 31).default(0),
    validationFraction: z.number().min(0).max(0.5).default(0.1),
    previewPrompts: z.array(z.string().min(1).max(1000)).max(8).default([]),
    previewSeed: z.number().int().min(0).max(2 ** 31).default(42),
  })
  .strict();
export type TuningSettings = z.output<typeof tuningSettingsSchema>;
export type TuningSettingsInput = z.input<typeof tuningSettingsSchema>;

export const tuningSampleSchema = z.object({ prompt: z.string(), seed: z.number(), dataUrl: z.string() });

export const tuningCheckpointSchema = z.object({
  step: z.number().int(),
  trainLoss: z.number(),
  validationLoss: z.number().nullable(),
  /** The validation loss rose above its lowest so far by more than 5%: later steps overfit. */
  overfitting: z.boolean(),
  samples: z.array(tuningSampleSchema),
});
export type TuningCheckpoint = z.output<typeof tuningCheckpointSchema>;

export const tuningRunSchema = z.object({
  id: z.string(),
  status: z.enum(TUNING_STATUSES),
  settings: tuningSettingsSchema,
  images: z.number().int(),
  createdAt: z.string(),
  step: z.number().int(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  /** What the engine is doing now. */
  phase: z.enum(['waiting', 'preparing', 'training', 'sampling', 'finished']),
  /** Per step: the batch loss and learning rate (index i is step i + 1). */
  losses: z.array(z.number()),
  lrs: z.array(z.number()),
  secondsPerStep: z.number().nullable(),
  etaSeconds: z.number().nullable(),
  startValidationLoss: z.number().nullable(),
  baseSamples: z.array(tuningSampleSchema),
  checkpoints: z.array(tuningCheckpointSchema),
});
export type TuningRun = z.output<typeof tuningRunSchema>;

export const variantSchema = z.object({
  id: z.string(),
  name: z.string(),
  /** The model it varies (a registered model's id). */
  model: z.string(),
  kind: z.enum(['lora', 'full']),
  runId: z.string(),
  step: z.number().int(),
  /** sha256 of the variant file, recorded in every image's recipe. */
  hash: z.string(),
  createdAt: z.string(),
});
export type Variant = z.output<typeof variantSchema>;

const idParams = z.object({ id: z.string().min(1).max(100) }).strict();

export const tuningMethods = {
  /** The images a source holds, with their recipe captions, and what is wrong with them. */
  'tuning.dataset': {
    params: z.object({ source: datasetSourceSchema, model: z.string().min(1).max(4096) }).strict(),
    result: z.object({ items: z.array(datasetItemSchema), problems: z.array(datasetProblemSchema), resolution: z.number().int() }),
  },
  /** Checks the dataset (DATASET_INVALID with the first problem, before any compute) and queues the run. */
  'tuning.start': {
    params: z.object({ source: datasetSourceSchema, captions: captionsSchema, settings: tuningSettingsSchema }).strict(),
    result: tuningRunSchema,
  },
  'tuning.list': { params: z.object({}).strict().optional(), result: z.object({ runs: z.array(tuningRunSchema) }) },
  'tuning.get': { params: idParams, result: tuningRunSchema },
  /** Stops a run at the end of its current step; resume continues from its last checkpoint. */
  'tuning.cancel': { params: idParams, result: tuningRunSchema },
  'tuning.resume': { params: idParams, result: tuningRunSchema },
  /** A checkpoint becomes a variant usable in Generate. */
  'tuning.useCheckpoint': {
    params: z.object({ id: z.string().min(1).max(100), step: z.number().int().min(1), name: z.string().min(1).max(200) }).strict(),
    result: variantSchema,
  },
  'tuning.variants': { params: z.object({}).strict().optional(), result: z.object({ variants: z.array(variantSchema) }) },
} as const;

export const tuningEvents = {
  /** A run changed (status, phase, step, a checkpoint); carries the whole run. */
  onTuningRun: tuningRunSchema,
  /** One training step (the curve grows by one point). */
  onTuningStep: z.object({
    id: z.string(),
    step: z.number().int(),
    loss: z.number(),
    lr: z.number(),
    secondsPerStep: z.number(),
    etaSeconds: z.number().nullable(),
  }),
  onVariantsChanged: z.object({ variants: z.array(variantSchema) }),
} as const;
