// The gallery's rows (no bytes): images with their recipes, tags, collections, favourites,
// ratings, trash. `records.sqlite.ts` keeps them in library.db.
import type { GalleryCollection, GalleryImage, GalleryListQuery, GalleryModelFacet, GalleryPage, GalleryRecipe } from '../../api/gallery.js';

export interface NewImageRow {
  uid: string;
  file: string;
  width: number;
  height: number;
  bytes: number;
  contentHash: string;
  createdAt: number;
  source: GalleryImage['source'];
  hasRecipe: boolean;
  recipe: GalleryRecipe;
  durationMs: number | null;
  tags?: readonly string[];
}

export interface ImageRecords {
  insert(row: NewImageRow): GalleryImage;
  get(uid: string): GalleryImage | undefined;
  findByHash(contentHash: string): GalleryImage | undefined;
  list(query: GalleryListQuery): GalleryPage;
  setRating(uid: string, rating: number): GalleryImage;
  setFavourite(uid: string, favourite: boolean): GalleryImage;
  addTags(uid: string, tags: readonly string[]): GalleryImage;
  removeTags(uid: string, tags: readonly string[]): GalleryImage;
  /** Moves live images to the trash; returns how many moved. */
  trash(uids: readonly string[], now: number): number;
  restore(uids: readonly string[]): number;
  /** Trashed images older than `before` (all trashed when absent), for purge. */
  trashed(before?: number): { uid: string; file: string }[];
  deleteRow(uid: string): void;
  /**
   * Deletes a purged image's row and records its file in the purge journal, in one
   * transaction: from then on the file is the purge's to remove, never the sweep's to adopt.
   */
  purgeRow(uid: string, file: string): void;
  /** Files whose purge started but whose removal was not confirmed (a crash in between). */
  pendingPurges(): { uid: string; file: string }[];
  /** The file of a purge is gone: forget it. */
  purgeDone(file: string): void;
  /** Every row's file, for the sweep. */
  files(): { uid: string; file: string }[];
  createCollection(name: string, now: number): GalleryCollection;
  deleteCollection(id: number): void;
  listCollections(): GalleryCollection[];
  addToCollection(id: number, uids: readonly string[], now: number): number;
  removeFromCollection(id: number, uids: readonly string[]): number;
  /** The models of the live images, with how many each. */
  models(): GalleryModelFacet[];
  count(): number;
}

export type GalleryErrorCode =
  | 'NOT_FOUND'
  | 'NOT_AN_IMAGE'
  | 'INVALID_CURSOR'
  | 'INVALID_INPUT'
  | 'PATH_OUTSIDE_LIBRARY'
  | 'CONFLICT';

export class GalleryError extends Error {
  override readonly name = 'GalleryError';
  constructor(
    readonly code: GalleryErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
