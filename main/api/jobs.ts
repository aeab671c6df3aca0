// The generation queue as the renderer sees it: calls to enqueue, reorder, cancel, retry, pause
// and resume, and the events a job emits on its way (queued, started, progress, preview, done,
// failed, cancelled). Imports only zod: main, preload, server and renderer share it.
import { z } from 'zod';

export const JOB_STATUSES = ['queued', 'running', 'done', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

const MAX_SEED = 2n ** 64n - 1n;

/** What one generation asks for; fields left out take the model's defaults. */
export const jobRecipeSchema = z
  .object({
    prompt: z.string().min(1).max(4000),
    negativePrompt: z.string().max(4000).default(''),
    /** What to run: a registered model's id (a Dimba model runs with its `pipeline` parts; a
     *  model with a `.manifest.json` file runs that manifest), or a model manifest's path. */
    model: z.string().min(1).max(4096),
    /** A decimal string (seeds reach 2^64); absent: a random one, recorded when the job starts. */
    seed: z
      .string()
      .regex(/^\d{1,20}$/, 'a whole number')
      .refine((s) => BigInt(s) <= MAX_SEED, 'below 2^64')
      .optional(),
    steps: z.number().int().min(1).max(1000).optional(),
    guidance: z.number().min(0).max(100).optional(),
    sampler: z.enum(['dpm++2m', 'ddim', 'euler']).optional(),
    width: z.number().int().min(8).max(4096).multipleOf(8).optional(),
    height: z.number().int().min(8).max(4096).multipleOf(8).optional(),
    /** A model variant made by tuning (tuning.useCheckpoint), applied at `strength` (1: as tuned). */
    adapter: z.object({ id: z.string().min(1).max(100), strength: z.number().min(0).max(2) }).strict().optional(),
  })
  .strict();
export type JobRecipe = z.output<typeof jobRecipeSchema>;

export const jobErrorSchema = z.object({ code: z.string(), message: z.string() });

export const jobSchema = z.object({
  id: z.string(),
  status: z.enum(JOB_STATUSES),
  recipe: jobRecipeSchema,
  /** Images this job makes, with seeds seed .. seed + count - 1. */
  count: z.number().int(),
  /** Order among queued jobs (lower runs first). */
  position: z.number(),
  attempts: z.number().int(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  error: jobErrorSchema.nullable(),
  /** Gallery ids of the finished images. */
  imageIds: z.array(z.string()),
});
export type Job = z.output<typeof jobSchema>;

const idParams = z.object({ id: z.string().min(1).max(100) }).strict();

export const jobsMethods = {
  'jobs.enqueue': {
    params: z.object({ recipe: jobRecipeSchema, count: z.number().int().min(1).max(64).default(1) }).strict(),
    result: jobSchema,
  },
  'jobs.list': {
    params: z
      .object({ statuses: z.array(z.enum(JOB_STATUSES)).optional(), limit: z.number().int().min(1).max(5000).default(500) })
      .strict()
      .optional(),
    result: z.object({ jobs: z.array(jobSchema), paused: z.boolean() }),
  },
  'jobs.cancel': { params: idParams, result: jobSchema },
  'jobs.retry': { params: idParams, result: jobSchema },
  /** Moves a queued job before another queued job, or to the end when `before` is null. */
  'jobs.move': {
    params: z.object({ id: z.string().min(1).max(100), before: z.string().min(1).max(100).nullable() }).strict(),
    result: jobSchema,
  },
  'jobs.pause': { params: z.object({}).strict().optional(), result: z.object({ paused: z.boolean() }) },
  'jobs.resume': { params: z.object({}).strict().optional(), result: z.object({ paused: z.boolean() }) },
  /** The backend the engine uses under the current setting, what it found, and why it chose. */
  'engine.backend': {
    params: z.object({}).strict().optional(),
    result: z.object({
      backend: z.enum(['cpu', 'vulkan', 'cuda']),
      reason: z.string(),
      found: z.array(z.object({ name: z.string(), available: z.boolean(), detail: z.string() })),
    }),
  },
} as const;

const jobRef = { id: z.string() };

export const jobsEvents = {
  onJobQueued: jobSchema,
  onJobStarted: z.object({ ...jobRef, seed: z.string(), attempt: z.number().int() }),
  onJobProgress: z.object({
    ...jobRef,
    stage: z.enum(['loading', 'text', 'sampling', 'decoding']),
    image: z.number().int(),
    count: z.number().int(),
    step: z.number().int(),
    steps: z.number().int(),
    /** Seconds left for the whole job, from the measured step rate; null until measurable. */
    etaSeconds: z.number().nullable(),
  }),
  /** A small image of the sampler's current state; dropped, never queued, when the window lags. */
  onJobPreview: z.object({ ...jobRef, image: z.number().int(), step: z.number().int(), dataUrl: z.string() }),
  onJobDone: z.object({ ...jobRef, imageIds: z.array(z.string()) }),
  onJobFailed: z.object({ ...jobRef, error: jobErrorSchema, willRetry: z.boolean() }),
  onJobCancelled: z.object(jobRef),
  /** Order or pause state changed (moves, retries): clients re-list. */
  onQueueChanged: z.object({ paused: z.boolean() }),
} as const;
