// The gallery's handlers, registered by handlers.ts. Gallery errors become API errors here: a
// missing image is NOT_FOUND, a state clash CONFLICT, any bad input (cursor, file, path)
// INVALID_PARAMS with the reason.
import fs from 'node:fs';
import { ApiError, type ErrorCode } from '../api/errors.js';
import type { GalleryService } from '../services/gallery/gallery.js';
import { GalleryError } from '../services/gallery/records.js';
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

export function galleryHandlers(gallery: () => GalleryService): Pick<Handlers, GalleryMethod> {
  return {
    'gallery.list': (query) => mapped(() => gallery().list(query ?? {})),
    'gallery.get': ({ uid }) => mapped(() => gallery().get(uid)),
    'gallery.recall': ({ uid }) => mapped(() => gallery().recall(uid)),
    'gallery.remix': (request) => mapped(() => ({ recipes: gallery().remix(request) })),
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
    'gallery.export': ({ uids, folder }) => mapped(() => gallery().exportSelection(uids, folder)),
    'gallery.importExport': ({ folder }) => mapped(() => gallery().importExport(folder)),
  };
}
