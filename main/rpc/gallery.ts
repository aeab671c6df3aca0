// The gallery's handlers, registered by handlers.ts. Gallery errors become API errors here: a
// missing image is NOT_FOUND, a state clash CONFLICT, any bad input (cursor, file, path)
// INVALID_PARAMS with the reason. Remix can queue its recipes through the jobs service.
import fs from 'node:fs';
import { ApiError, type ErrorCode } from '../api/errors.js';
import type { Job, RemixRequest } from '../api/index.js';
import type { GalleryService } from '../services/gallery/gallery.js';
import { GalleryError } from '../services/gallery/records.js';
import { jobRecipeOf } from '../services/gallery/remix.js';
import { createUploads } from '../services/gallery/uploads.js';
import type { JobsService } from '../services/jobs/jobs.service.js';
import type { Handlers } from './handlers.js';

type GalleryMethod = Extract<keyof Handlers, `gallery.${string}`>;

function apiCode(error: GalleryError): ErrorCode {
  if (error.code === 'NOT_FOUND') return 'NOT_FOUND';
  if (error.code === 'CONFLICT') return 'CONFLICT';
  return 'INVALID_PARAMS';
}

async function mapped<T>(work: () => T | Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof GalleryError) throw new ApiError(apiCode(error), error.message);
    throw error;
  }
}

/** How far back the job that made an image is looked for (remix without a model). */
const JOBS_SEARCHED = 5000;

export function galleryHandlers(gallery: () => GalleryService, jobs?: () => JobsService): Pick<Handlers, GalleryMethod> {
  const uploads = createUploads();

  /** The model to queue a remix with: the caller's, else the one the image's job ran. */
  const remixModel = (request: RemixRequest, queue: JobsService): string => {
    if (request.model) return request.model;
    const maker = queue.list({ limit: JOBS_SEARCHED }).jobs.find((j) => j.imageIds.includes(request.uid));
    if (maker) return maker.recipe.model;
    throw new GalleryError('INVALID_INPUT', 'the model that made this image is not known here: choose a model and generate from the form');
  };

  const remix = (request: RemixRequest) => {
    const recipes = gallery().remix(request);
    if (!request.enqueue) return { recipes, jobs: [] as Job[] };
    if (!jobs) throw new ApiError('INTERNAL', 'the queue is not available to remix');
    const queue = jobs();
    const model = remixModel(request, queue);
    // Checked whole before the first enqueue, so a bad recipe queues nothing.
    const wanted = recipes.map((r) => jobRecipeOf(r, model));
    return { recipes, jobs: wanted.map((recipe) => queue.enqueue(recipe, 1)) };
  };

  return {
    'gallery.list': (query) => mapped(() => gallery().list(query ?? {})),
    'gallery.get': ({ uid }) => mapped(() => gallery().get(uid)),
    'gallery.recall': ({ uid }) => mapped(() => gallery().recall(uid)),
    'gallery.remix': (request) => mapped(() => remix(request)),
    'gallery.models': () => mapped(() => ({ models: gallery().models() })),
    'gallery.setRating': ({ uid, rating }) => mapped(() => gallery().setRating(uid, rating)),
    'gallery.setFavourite': ({ uid, favourite }) => mapped(() => gallery().setFavourite(uid, favourite)),
    'gallery.addTags': ({ uid, tags }) => mapped(() => gallery().addTags(uid, tags)),
    'gallery.removeTags': ({ uid, tags }) => mapped(() => gallery().removeTags(uid, tags)),
    'gallery.trash': ({ uids }) => mapped(() => ({ count: gallery().trash(uids) })),
    'gallery.restore': ({ uids }) => mapped(() => ({ count: gallery().restore(uids) })),
    'gallery.purge': ({ uids }) => mapped(async () => ({ count: await gallery().purge(uids) })),
    'gallery.collections': () => mapped(() => ({ collections: gallery().listCollections() })),
    'gallery.createCollection': ({ name }) => mapped(() => gallery().createCollection(name)),
    'gallery.deleteCollection': ({ id }) => mapped(() => (gallery().deleteCollection(id), {})),
    'gallery.addToCollection': ({ id, uids }) => mapped(() => ({ count: gallery().addToCollection(id, uids) })),
    'gallery.removeFromCollection': ({ id, uids }) => mapped(() => ({ count: gallery().removeFromCollection(id, uids) })),
    'gallery.importFile': ({ path, tags }) =>
      mapped(async () => {
        let bytes: Buffer;
        try {
          bytes = await fs.promises.readFile(path);
        } catch (error) {
          throw new GalleryError('INVALID_INPUT', `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
        }
        return gallery().importImage(bytes, tags ? { tags } : {});
      }),
    'gallery.uploadPart': ({ upload, index, data }) => mapped(() => ({ bytes: uploads.append(upload, index, data) })),
    'gallery.importUpload': ({ upload, tags }) => mapped(() => gallery().importImage(uploads.take(upload), tags ? { tags } : {})),
    'gallery.export': ({ uids, folder }) => mapped(() => gallery().exportSelection(uids, folder)),
    'gallery.importExport': ({ folder }) => mapped(() => gallery().importExport(folder)),
  };
}
