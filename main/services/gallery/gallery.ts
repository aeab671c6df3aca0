// The gallery service: what the studio does with its library of images. `gallery.library.ts`
// implements it over library.db (records) and the library folder (files).
import type {
  FormRecipe,
  GalleryCollection,
  GalleryImage,
  GalleryListQueryInput,
  GalleryModelFacet,
  GalleryPage,
  GalleryRecipe,
  ImportResult,
  RemixRequest,
  SweepReport,
} from '../../api/gallery.js';

export interface SaveGeneratedInput {
  /** The PNG as the engine wrote it, recipe chunks included. */
  png: Uint8Array;
  recipe: GalleryRecipe;
  durationMs: number | null;
  createdAt?: number;
  tags?: readonly string[];
}

export interface ImportOptions {
  tags?: readonly string[];
  /** A recipe known from elsewhere (an export's recipes.json) wins over the file's chunks. */
  recipe?: GalleryRecipe;
  createdAt?: number;
  rating?: number;
  favourite?: boolean;
}

export interface ExportResult {
  folder: string;
  count: number;
}

export interface ImportExportResult {
  imported: number;
  duplicates: number;
  failed: { file: string; reason: string }[];
}

export interface GalleryService {
  readonly folder: string;
  saveGenerated(input: SaveGeneratedInput): Promise<GalleryImage>;
  importImage(bytes: Uint8Array, options?: ImportOptions): Promise<ImportResult>;
  get(uid: string): GalleryImage;
  list(query?: GalleryListQueryInput): GalleryPage;
  setRating(uid: string, rating: number): GalleryImage;
  setFavourite(uid: string, favourite: boolean): GalleryImage;
  addTags(uid: string, tags: readonly string[]): GalleryImage;
  removeTags(uid: string, tags: readonly string[]): GalleryImage;
  trash(uids: readonly string[]): number;
  restore(uids: readonly string[]): number;
  /** Deletes trashed images for good (these uids, or the whole trash): row first, then bytes. */
  purge(uids?: readonly string[]): Promise<number>;
  createCollection(name: string): GalleryCollection;
  deleteCollection(id: number): void;
  listCollections(): GalleryCollection[];
  addToCollection(id: number, uids: readonly string[]): number;
  removeFromCollection(id: number, uids: readonly string[]): number;
  /** The models the live images were made with (for the model filter). */
  models(): GalleryModelFacet[];
  recall(uid: string): FormRecipe;
  remix(request: RemixRequest): FormRecipe[];
  /** Copies the images and a recipes.json into `folder` (made; must be empty or absent). */
  exportSelection(uids: readonly string[], folder: string): Promise<ExportResult>;
  importExport(folder: string): Promise<ImportExportResult>;
  /** Absolute path of an image's file, confined to the library. */
  filePath(uid: string): string;
  thumbnail(uid: string): Promise<string>;
  /** Reconciles files and rows; run on start (openGallery does). */
  sweep(): Promise<SweepReport>;
  close(): void;
}
