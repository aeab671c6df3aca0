// The gallery as the renderer sees it: images with their recipes, list/search with cursor
// pagination, tags, collections, favourites, ratings, trash, recall, remix, export and import.
// Imports only zod: main, preload, server and renderer share it.
import { z } from 'zod';
import { jobSchema } from './jobs.js';

/** Seeds reach 2^64 - 1, so they travel as decimal strings. */
export const seedSchema = z.string().regex(/^\d{1,20}$/, 'a whole number').refine((s) => BigInt(s) < 2n ** 64n, 'below 2^64');

export const adapterRefSchema = z.object({
  id: z.string().max(512),
  hash: z.string().max(256),
  weight: z.number().finite(),
});

/**
 * What made an image, as far as it is known: a generated image knows everything; an imported
 * one knows what its metadata said (null where it said nothing).
 */
export const galleryRecipeSchema = z.object({
  prompt: z.string(),
  negativePrompt: z.string(),
  seed: seedSchema.nullable(),
  steps: z.number().int().min(1).max(10_000).nullable(),
  guidance: z.number().finite().nullable(),
  sampler: z.string().max(128).nullable(),
  width: z.number().int().min(1).max(65_535).nullable(),
  height: z.number().int().min(1).max(65_535).nullable(),
  model: z.object({ id: z.string().max(512), name: z.string().max(512), hash: z.string().max(256) }).nullable(),
  adapters: z.array(adapterRefSchema).max(64),
  engineVersion: z.string().max(128).nullable(),
  backend: z.string().max(64).nullable(),
});
export type GalleryRecipe = z.output<typeof galleryRecipeSchema>;

export const IMAGE_SOURCES = ['generated', 'imported'] as const;
/** Where an imported recipe came from. */
export const RECIPE_ORIGINS = ['dimba', 'a1111', 'comfyui', 'none'] as const;

export const galleryImageSchema = z.object({
  uid: z.string(),
  /** Relative to the library folder, '/'-separated. */
  file: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  bytes: z.number().int(),
  contentHash: z.string(),
  createdAt: z.number().int(),
  source: z.enum(IMAGE_SOURCES),
  hasRecipe: z.boolean(),
  recipe: galleryRecipeSchema,
  durationMs: z.number().int().nullable(),
  rating: z.number().int().min(0).max(5),
  favourite: z.boolean(),
  trashedAt: z.number().int().nullable(),
  tags: z.array(z.string()),
  /** The collections the image is in. */
  collectionIds: z.array(z.number().int()),
});
export type GalleryImage = z.output<typeof galleryImageSchema>;

export const GALLERY_SORTS = ['created', 'rating', 'prompt', 'model', 'seed'] as const;
export type GallerySort = (typeof GALLERY_SORTS)[number];

export const galleryListQuerySchema = z
  .object({
    /** Words to find in prompts, negative prompts and tags (each word a prefix; all must match). */
    text: z.string().max(1000).optional(),
    modelId: z.string().max(512).optional(),
    seed: seedSchema.optional(),
    collectionId: z.number().int().positive().optional(),
    tag: z.string().max(200).optional(),
    minRating: z.number().int().min(0).max(5).optional(),
    favourite: z.boolean().optional(),
    /** Made at or after this time (ms since the epoch). */
    createdFrom: z.number().int().min(0).optional(),
    /** Made before this time (ms since the epoch). */
    createdBefore: z.number().int().min(0).optional(),
    /** true: the trash instead of the live images. */
    trashed: z.boolean().default(false),
    sort: z.enum(GALLERY_SORTS).default('created'),
    order: z.enum(['asc', 'desc']).default('desc'),
    limit: z.number().int().min(1).max(500).default(50),
    /** Opaque: `nextCursor` of the previous page, with the same filters and sort. */
    cursor: z.string().max(4096).optional(),
  })
  .strict();
export type GalleryListQuery = z.output<typeof galleryListQuerySchema>;
export type GalleryListQueryInput = z.input<typeof galleryListQuerySchema>;

export const galleryPageSchema = z.object({
  items: z.array(galleryImageSchema),
  /** Absent on the last page. */
  nextCursor: z.string().optional(),
});
export type GalleryPage = z.output<typeof galleryPageSchema>;

/** The generate form's fields, as recall and remix hand them back; absent where unknown. */
export const formRecipeSchema = z.object({
  prompt: z.string(),
  negativePrompt: z.string(),
  modelId: z.string().optional(),
  seed: seedSchema.optional(),
  steps: z.number().int().optional(),
  guidance: z.number().optional(),
  sampler: z.string().optional(),
  width: z.number().int().optional(),
  height: z.number().int().optional(),
});
export type FormRecipe = z.output<typeof formRecipeSchema>;

/** Remix can also queue what it makes: one job per recipe. */
const remixQueueFields = {
  /** true: enqueue a job for each recipe (the result lists them). */
  enqueue: z.boolean().optional(),
  /** The model to run, as the jobs API takes it; absent: the model of the job that made the image. */
  model: z.string().min(1).max(4096).optional(),
};

export const remixRequestSchema = z.discriminatedUnion('kind', [
  /** Same seed (and everything else), the prompt edited. */
  z
    .object({ kind: z.literal('edit-prompt'), uid: z.string(), prompt: z.string().max(10_000), negativePrompt: z.string().max(10_000).optional(), ...remixQueueFields })
    .strict(),
  /** Same prompt and settings, a fresh seed. */
  z.object({ kind: z.literal('new-seed'), uid: z.string(), ...remixQueueFields }).strict(),
  /** N recipes with N fresh seeds. */
  z.object({ kind: z.literal('variations'), uid: z.string(), count: z.number().int().min(1).max(64), ...remixQueueFields }).strict(),
]);
export type RemixRequest = z.output<typeof remixRequestSchema>;

export const collectionSchema = z.object({ id: z.number().int(), name: z.string(), createdAt: z.number().int(), count: z.number().int() });
export type GalleryCollection = z.output<typeof collectionSchema>;

export const uidsSchema = z.object({ uids: z.array(z.string().max(64)).min(1).max(10_000) }).strict();

export const importResultSchema = z.object({
  image: galleryImageSchema,
  /** The same bytes were already in the library: nothing new was stored. */
  duplicate: z.boolean(),
  recipeFrom: z.enum(RECIPE_ORIGINS),
  /** Metadata that could not be read (the image itself was kept). */
  warnings: z.array(z.string()),
});
export type ImportResult = z.output<typeof importResultSchema>;

/** The models the library's live images were made with, for the model filter. */
export const galleryModelFacetSchema = z.object({ id: z.string(), name: z.string(), count: z.number().int() });
export type GalleryModelFacet = z.output<typeof galleryModelFacetSchema>;

/** An upload (a dropped file's bytes, sent in parts) is named by the caller: 32 hex digits. */
export const uploadIdSchema = z.string().regex(/^[0-9a-f]{32}$/, '32 hex digits');
/** One part's bytes, base64: 512 KiB decoded, so a part fits any transport's message. */
export const UPLOAD_PART_BYTES = 512 * 1024;
export const UPLOAD_MAX_BYTES = 256 * 1024 * 1024;

export const sweepReportSchema = z.object({
  removedTempFiles: z.number().int(),
  removedRowsWithoutFile: z.number().int(),
  adoptedFiles: z.number().int(),
  quarantinedFiles: z.number().int(),
  removedThumbnails: z.number().int(),
  /** Purges a crash cut short between the row and the file, completed (files removed). */
  finishedPurges: z.number().int(),
});
export type SweepReport = z.output<typeof sweepReportSchema>;

const uidParams = z.object({ uid: z.string().min(1).max(64) }).strict();
const countResult = z.object({ count: z.number().int() });
const tagsParams = z.object({ uid: z.string().min(1).max(64), tags: z.array(z.string().max(200)).min(1).max(100) }).strict();
const collectionUids = z.object({ id: z.number().int().positive(), uids: z.array(z.string().max(64)).min(1).max(10_000) }).strict();
/** A path on the studio's machine (picked in a dialog); the main side reads or writes there. */
const hostPath = z.string().min(1).max(4096);

export const galleryMethods = {
  'gallery.list': { params: galleryListQuerySchema.optional(), result: galleryPageSchema },
  'gallery.get': { params: uidParams, result: galleryImageSchema },
  /** The generate form's fields for an image. */
  'gallery.recall': { params: uidParams, result: formRecipeSchema },
  'gallery.remix': { params: remixRequestSchema, result: z.object({ recipes: z.array(formRecipeSchema), jobs: z.array(jobSchema) }) },
  'gallery.models': { params: z.object({}).strict().optional(), result: z.object({ models: z.array(galleryModelFacetSchema) }) },
  'gallery.setRating': { params: z.object({ uid: z.string().min(1).max(64), rating: z.number().int().min(0).max(5) }).strict(), result: galleryImageSchema },
  'gallery.setFavourite': { params: z.object({ uid: z.string().min(1).max(64), favourite: z.boolean() }).strict(), result: galleryImageSchema },
  'gallery.addTags': { params: tagsParams, result: galleryImageSchema },
  'gallery.removeTags': { params: tagsParams, result: galleryImageSchema },
  'gallery.trash': { params: uidsSchema, result: countResult },
  'gallery.restore': { params: uidsSchema, result: countResult },
  /** Deletes trashed images for good: these, or the whole trash when uids is absent. */
  'gallery.purge': { params: z.object({ uids: z.array(z.string().max(64)).max(10_000).optional() }).strict(), result: countResult },
  'gallery.collections': { params: z.object({}).strict().optional(), result: z.object({ collections: z.array(collectionSchema) }) },
  'gallery.createCollection': { params: z.object({ name: z.string().min(1).max(200) }).strict(), result: collectionSchema },
  'gallery.deleteCollection': { params: z.object({ id: z.number().int().positive() }).strict(), result: z.object({}) },
  'gallery.addToCollection': { params: collectionUids, result: countResult },
  'gallery.removeFromCollection': { params: collectionUids, result: countResult },
  'gallery.importFile': { params: z.object({ path: hostPath, tags: z.array(z.string().max(200)).max(100).optional() }).strict(), result: importResultSchema },
  /** Appends the next part of an upload (parts in order from 0). */
  'gallery.uploadPart': {
    params: z
      .object({ upload: uploadIdSchema, index: z.number().int().min(0), data: z.string().max(Math.ceil(UPLOAD_PART_BYTES / 3) * 4).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64') })
      .strict(),
    result: z.object({ bytes: z.number().int() }),
  },
  /** Imports the uploaded bytes as one image (and forgets the upload). */
  'gallery.importUpload': { params: z.object({ upload: uploadIdSchema, tags: z.array(z.string().max(200)).max(100).optional() }).strict(), result: importResultSchema },
  'gallery.export': { params: z.object({ uids: z.array(z.string().max(64)).min(1).max(10_000), folder: hostPath }).strict(), result: z.object({ folder: z.string(), count: z.number().int() }) },
  'gallery.importExport': {
    params: z.object({ folder: hostPath }).strict(),
    result: z.object({ imported: z.number().int(), duplicates: z.number().int(), failed: z.array(z.object({ file: z.string(), reason: z.string() })) }),
  },
} as const;

export const galleryEvents = {
  /** An image was saved or imported: lists showing the newest first can prepend it. */
  onGalleryImageAdded: galleryImageSchema,
} as const;
