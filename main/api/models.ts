// The model manager's part of the API: registered models, validation reports, the download
// catalogue and download progress. Imports nothing from node or electron (see README).
import { z } from 'zod';

export const MODEL_KINDS = ['dimba', 't5', 'vae', 'builtin'] as const;
/** The model that ships with the app (assets/builtin, issue 8): listed first by models.list with
 *  kind 'builtin', and what a job's `model` names to run it. */
export const BUILTIN_MODEL_ID = 'dimba-builtin-32';
export type ModelKind = (typeof MODEL_KINDS)[number];
export const ARCHITECTURES = ['dimba', 't5', 'vae', 'unknown'] as const;

/** Model ids name folders: no separators, no leading dot (dot-folders are staging). */
export const MODEL_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,80}$/;
const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/);
const pathSchema = z.string().min(1).max(4096);

/** What validation found, from headers only. */
export const validationSchema = z.object({
  path: z.string(),
  /** The architecture the tensor names match best. */
  architecture: z.enum(ARCHITECTURES),
  /** `engine`: compared with the engine's expected tensor lists (missing/unexpected are exact);
   *  `headers`: safetensors headers read by the main side, names matched by pattern only. */
  checkedBy: z.enum(['engine', 'headers']),
  ok: z.boolean(),
  tensorCount: z.number().int().nonnegative(),
  totalBytes: z.number().nonnegative(),
  /** Tensor dtypes with how many tensors have each. */
  dtypes: z.record(z.string(), z.number().int()),
  matched: z.number().int().nonnegative(),
  expected: z.number().int().nonnegative(),
  missing: z.array(z.string()),
  unexpected: z.array(z.string()),
  wrongShape: z.array(z.string()),
  /** Problems in words (unreadable file, no config found, ...). */
  problems: z.array(z.string()),
  /** Files this checker cannot read (PyTorch files when only headers are read here); the
   *  engine checks them when it loads the model. They do not make a report invalid. */
  unchecked: z.array(z.string()),
});
export type Validation = z.infer<typeof validationSchema>;

export const modelFileSchema = z.object({
  /** Absolute for local models; relative to the model's folder for downloads. */
  path: z.string(),
  bytes: z.number().nonnegative(),
  sha256: sha256Schema.nullable(),
});
export type ModelFile = z.infer<typeof modelFileSchema>;

export const modelSourceSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('local'), path: z.string() }),
  z.object({ type: z.literal('download'), catalogueId: z.string(), urls: z.array(z.string()) }),
  z.object({ type: z.literal('builtin') }),
]);

export const MODEL_STATUSES = ['ready', 'invalid', 'missing'] as const;

/** The parts a Dimba model generates with, chosen among the registered models. */
export const modelPipelineSchema = z.object({
  /** Id of the T5 model it uses; null when none is registered and ready. */
  textEncoder: z.string().nullable(),
  /** Id of the VAE model it uses; null when none is registered and ready. */
  vae: z.string().nullable(),
  /** Why it cannot generate yet, in words (no T5, no tokenizer, ...); null when it can. */
  problem: z.string().nullable(),
});
export type ModelPipeline = z.infer<typeof modelPipelineSchema>;

export const modelSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(MODEL_KINDS),
  /** `missing`: a file the manifest lists is gone or changed size since registration. */
  status: z.enum(MODEL_STATUSES),
  source: modelSourceSchema,
  files: z.array(modelFileSchema),
  totalBytes: z.number().nonnegative(),
  /** The architecture config (a Dimba/T5/VAE config JSON) when one was found. */
  config: z.record(z.string(), z.unknown()).nullable(),
  validation: validationSchema.nullable(),
  addedAt: z.string(),
  /** Dimba models in models.list: what it generates with. A job's `model` may name a Dimba
   *  model's id; it runs with these parts. Absent for other kinds. */
  pipeline: modelPipelineSchema.optional(),
});
export type Model = z.infer<typeof modelSchema>;

export const catalogueFileSchema = z.object({
  url: z.string().url(),
  /** Where the file goes inside the model's folder: a plain relative path, no `..`. */
  path: z
    .string()
    .min(1)
    .max(255)
    .refine((p) => !p.startsWith('/') && !p.includes('\\') && p.split('/').every((part) => part !== '' && part !== '.' && part !== '..'), 'a relative path inside the model folder'),
  bytes: z.number().int().positive().nullable(),
  sha256: sha256Schema.nullable(),
});

export const catalogueEntrySchema = z.object({
  id: z.string().regex(MODEL_ID_PATTERN),
  name: z.string(),
  kind: z.enum(MODEL_KINDS),
  description: z.string(),
  files: z.array(catalogueFileSchema).min(1),
});
export type CatalogueEntry = z.infer<typeof catalogueEntrySchema>;

export const DOWNLOAD_STATES = ['running', 'verifying', 'done', 'failed', 'cancelled'] as const;

export const downloadSchema = z.object({
  catalogueId: z.string(),
  state: z.enum(DOWNLOAD_STATES),
  /** The file being fetched now (its path inside the model folder). */
  file: z.string().nullable(),
  receivedBytes: z.number().nonnegative(),
  totalBytes: z.number().nonnegative().nullable(),
  bytesPerSecond: z.number().nonnegative(),
  etaSeconds: z.number().nonnegative().nullable(),
  /** A DownloadErrorCode (E_NO_SPACE, E_HASH_MISMATCH, ...) and words, when failed. */
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
});
export type Download = z.infer<typeof downloadSchema>;

const noParams = z.object({}).strict().optional();
const idParams = z.object({ id: z.string().min(1).max(200) }).strict();

export const CONVERSION_STATES = ['running', 'done', 'failed', 'cancelled'] as const;

/** A one-time conversion of a registered model (a Dimba .pt into safetensors, in the model's folder). */
export const conversionSchema = z.object({
  modelId: z.string(),
  state: z.enum(CONVERSION_STATES),
  /** Tensor bytes written, of `totalBytes` (null until the checkpoint's index is read). */
  doneBytes: z.number().nonnegative(),
  totalBytes: z.number().nonnegative().nullable(),
  /** E_BAD_FILE, E_UNSUPPORTED_FORMAT, E_EXISTS, E_CANCELLED or E_IO, and words, when it did not finish. */
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
});
export type Conversion = z.infer<typeof conversionSchema>;

export const modelMethods = {
  'models.list': { params: noParams, result: z.array(modelSchema) },
  /** Validates a file or folder without registering it. */
  'models.validate': { params: z.object({ path: pathSchema }).strict(), result: validationSchema },
  /** Registers a checkpoint, a T5 or VAE folder, or a release layout (several models). */
  'models.register': {
    params: z
      .object({
        path: pathSchema,
        name: z.string().min(1).max(200).optional(),
        /** The kind, for files the checker cannot read (a .pt when only headers are read). */
        kind: z.enum(['dimba', 't5', 'vae']).optional(),
      })
      .strict(),
    result: z.array(modelSchema),
  },
  /** Forgets a model; a downloaded model's folder is deleted, a local model's files are not. */
  'models.remove': { params: idParams, result: z.object({ removed: z.boolean() }) },
  'models.catalogue': { params: noParams, result: z.array(catalogueEntrySchema) },
  'models.downloads': { params: noParams, result: z.array(downloadSchema) },
  /** Starts (or resumes) a download; progress arrives as onModelDownload events. */
  'models.download': { params: z.object({ catalogueId: z.string().min(1).max(200) }).strict(), result: downloadSchema },
  'models.cancelDownload': { params: z.object({ catalogueId: z.string().min(1).max(200) }).strict(), result: z.object({ cancelled: z.boolean() }) },
  /** Converts a Dimba model's PyTorch checkpoint to safetensors (mmap loading); progress arrives
   *  as onModelConversion events; when done, the model uses the converted file. CONFLICT when
   *  the model has no .pt to convert. */
  'models.convert': { params: idParams, result: conversionSchema },
  'models.cancelConversion': { params: idParams, result: z.object({ cancelled: z.boolean() }) },
} as const;

export const modelEvents = {
  /** The registered models after any change. */
  onModelsChanged: z.array(modelSchema),
  /** A download's state, at most a few times a second while it runs, and at every change. */
  onModelDownload: downloadSchema,
  /** A conversion's state, a few times a second while it runs and when it ends. */
  onModelConversion: conversionSchema,
} as const;
