// The gallery over a library folder: rows in library.db (records.sqlite.ts), bytes in images/
// (files.ts). A save writes the file atomically and then its row in one transaction; if the row
// fails the file is removed, so a failed save leaves nothing behind. What a crash can leave
// (a temp file, a complete file without its row, a purge between its row and its file) the
// sweep reconciles on the next open.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import {
  galleryListQuerySchema,
  galleryRecipeSchema,
  type GalleryImage,
  type ImportResult,
  type SweepReport,
} from '../../api/gallery.js';
import { openLibrary, type Library, type OpenLibraryOptions } from '../library/library.js';
import { createImageFiles, IMAGES_DIR, resolveInside, type ImageFiles } from './files.js';
import type { GalleryService, ImportExportResult, ImportOptions } from './gallery.js';
import { MAX_PROMPT_CHARS, readImageMetadata } from './metadata.js';
import { createSqliteImageRecords } from './records.sqlite.js';
import { GalleryError, type ImageRecords } from './records.js';
import { recallRecipe, remixRecipes } from './remix.js';

/** Files bigger than this are refused on import (a 16k x 16k PNG is well under it). */
const MAX_IMPORT_BYTES = 512 * 1024 * 1024;
export const EXPORT_MANIFEST = 'recipes.json';

const exportEntrySchema = z.object({
  uid: z.string().max(64),
  file: z.string().max(512),
  contentHash: z.string().max(128),
  createdAt: z.number().int(),
  recipe: galleryRecipeSchema,
  hasRecipe: z.boolean(),
  rating: z.number().int().min(0).max(5),
  favourite: z.boolean(),
  tags: z.array(z.string().max(200)).max(1000),
});
const exportManifestSchema = z.object({
  format: z.literal('dimba-gallery-export'),
  version: z.literal(1),
  images: z.array(exportEntrySchema).max(1_000_000),
});

export interface OpenGalleryOptions extends Pick<OpenLibraryOptions, 'check'> {
  folder: string;
  now?: () => number;
  /** Skip the sweep on open (the benchmark measures it on its own). */
  sweep?: boolean;
  log?: (message: string) => void;
  /** Told of every image saved or imported (not of duplicates). */
  onAdded?: (image: GalleryImage) => void;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function newUid(): string {
  return randomBytes(16).toString('hex');
}

function imagePath(uid: string, ext: string, at: number): string {
  const d = new Date(at);
  return `${IMAGES_DIR}/${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}/${uid}.${ext}`;
}

export function createLibraryGallery(library: Library, files: ImageFiles, records: ImageRecords, options: OpenGalleryOptions): GalleryService {
  const now = options.now ?? Date.now;
  const must = (uid: string): GalleryImage => {
    const image = records.get(uid);
    if (!image) throw new GalleryError('NOT_FOUND', `no image ${uid}`);
    return image;
  };

  /** Writes the bytes, then the row; if the row fails, the file goes too. */
  const store = async (bytes: Uint8Array, row: Omit<Parameters<ImageRecords['insert']>[0], 'file' | 'bytes' | 'contentHash'>, ext: string) => {
    const file = imagePath(row.uid, ext, row.createdAt);
    await files.write(file, bytes);
    try {
      return records.insert({ ...row, file, bytes: bytes.byteLength, contentHash: sha256(bytes) });
    } catch (error) {
      await files.remove(file);
      throw error;
    }
  };

  const importImage = async (input: Uint8Array, opts: ImportOptions = {}): Promise<ImportResult> => {
    if (input.byteLength > MAX_IMPORT_BYTES) throw new GalleryError('NOT_AN_IMAGE', 'the file is larger than 512 MiB');
    await idle();
    const bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    const meta = await readImageMetadata(bytes);
    const existing = records.findByHash(sha256(bytes));
    if (existing) return { image: existing, duplicate: true, recipeFrom: meta.recipeFrom, warnings: meta.warnings };
    const recipe = opts.recipe ?? meta.recipe;
    const hasRecipe = opts.recipe !== undefined || meta.recipeFrom !== 'none';
    let image = await store(
      bytes,
      {
        uid: newUid(),
        width: meta.width,
        height: meta.height,
        createdAt: opts.createdAt ?? now(),
        source: 'imported',
        hasRecipe,
        recipe,
        durationMs: null,
        tags: opts.tags ?? [],
      },
      meta.format === 'jpeg' ? 'jpg' : meta.format,
    );
    if (opts.rating) image = records.setRating(image.uid, opts.rating);
    if (opts.favourite) image = records.setFavourite(image.uid, true);
    added(image);
    return { image, duplicate: false, recipeFrom: opts.recipe ? 'dimba' : meta.recipeFrom, warnings: meta.warnings };
  };

  // Saves wait for a running sweep: the sweep would otherwise take a save's file, renamed but
  // not yet committed, for an orphan.
  let sweeping: Promise<SweepReport> | undefined;
  const idle = async () => {
    if (sweeping) await sweeping.catch(() => undefined);
  };
  const added = (image: GalleryImage) => {
    options.onAdded?.(image);
    return image;
  };

  const finishPurge = async (purged: { uid: string; file: string }) => {
    await files.remove(purged.file);
    await files.removeThumbnail(purged.uid);
    records.purgeDone(purged.file);
  };

  const runSweep = async (): Promise<SweepReport> => {
    const report: SweepReport = {
      removedTempFiles: 0,
      removedRowsWithoutFile: 0,
      adoptedFiles: 0,
      quarantinedFiles: 0,
      removedThumbnails: 0,
      finishedPurges: 0,
    };
    report.removedTempFiles = files.clearTemp();
    // Purges a crash interrupted: their rows are gone, their files must go too (first, so the
    // adoption below never sees them).
    for (const purged of records.pendingPurges()) {
      await finishPurge(purged);
      report.finishedPurges++;
    }
    const onDisk = new Set(files.listImageFiles());
    const rows = records.files();
    const known = new Set<string>();
    for (const row of rows) {
      if (onDisk.has(row.file)) {
        known.add(row.file);
      } else {
        records.deleteRow(row.uid);
        await files.removeThumbnail(row.uid);
        report.removedRowsWithoutFile++;
      }
    }
    for (const file of onDisk) {
      if (known.has(file)) continue;
      // A complete file without its row: the process died between rename and commit (or the
      // user dropped it in). It carries its recipe, so it is adopted, not deleted.
      try {
        const bytes = await files.read(file);
        const meta = await readImageMetadata(bytes);
        const base = path.posix.basename(file).replace(/\.[^.]*$/, '');
        const uid = /^[0-9a-f]{32}$/.test(base) && !records.get(base) ? base : newUid();
        const stat = fs.statSync(resolveInside(library.folder, file));
        records.insert({
          uid,
          file,
          width: meta.width,
          height: meta.height,
          bytes: bytes.byteLength,
          contentHash: sha256(bytes),
          createdAt: Math.round(stat.mtimeMs),
          source: meta.recipeFrom === 'dimba' ? 'generated' : 'imported',
          hasRecipe: meta.recipeFrom !== 'none',
          recipe: meta.recipe,
          durationMs: null,
        });
        report.adoptedFiles++;
      } catch (error) {
        options.log?.(`gallery sweep: ${file} is not a readable image (${String(error)}); moved to quarantine`);
        await files.quarantine(file);
        report.quarantinedFiles++;
      }
    }
    const uids = new Set(records.files().map((r) => r.uid));
    for (const thumb of files.listThumbnails()) {
      const uid = path.posix.basename(thumb).replace(/\.webp$/, '');
      if (!uids.has(uid)) {
        await files.remove(thumb);
        report.removedThumbnails++;
      }
    }
    return report;
  };
  const sweep = (): Promise<SweepReport> => {
    sweeping ??= runSweep().finally(() => (sweeping = undefined));
    return sweeping;
  };

  return {
    folder: library.folder,
    async saveGenerated(input) {
      await idle();
      const recipe = galleryRecipeSchema.parse(input.recipe);
      if (recipe.prompt.length > MAX_PROMPT_CHARS) throw new GalleryError('INVALID_INPUT', `a prompt is at most ${MAX_PROMPT_CHARS} characters`);
      const bytes = Buffer.from(input.png.buffer, input.png.byteOffset, input.png.byteLength);
      const meta = await readImageMetadata(bytes);
      if (meta.format !== 'png') throw new GalleryError('NOT_AN_IMAGE', 'a generated image is saved as PNG');
      const image = await store(
        bytes,
        {
          uid: newUid(),
          width: meta.width,
          height: meta.height,
          createdAt: input.createdAt ?? now(),
          source: 'generated',
          hasRecipe: true,
          recipe,
          durationMs: input.durationMs,
          tags: input.tags ?? [],
        },
        'png',
      );
      return added(image);
    },
    importImage,
    get: must,
    list(query = {}) {
      const parsed = galleryListQuerySchema.safeParse(query);
      if (!parsed.success) throw new GalleryError('INVALID_INPUT', parsed.error.issues.map((i) => i.message).join('; '));
      return records.list(parsed.data);
    },
    setRating: (uid, rating) => records.setRating(uid, rating),
    setFavourite: (uid, favourite) => records.setFavourite(uid, favourite),
    addTags: (uid, tags) => records.addTags(uid, tags),
    removeTags: (uid, tags) => records.removeTags(uid, tags),
    trash: (uids) => records.trash(uids, now()),
    restore: (uids) => records.restore(uids),
    async purge(uids) {
      const wanted = uids && new Set(uids);
      let n = 0;
      for (const row of records.trashed()) {
        if (wanted && !wanted.has(row.uid)) continue;
        // Row first, with a journal entry in the same transaction, then the file: no moment
        // has a row without its file, and a crash before the unlink leaves a journalled file
        // that the sweep removes (finishing the purge) instead of adopting it back.
        records.purgeRow(row.uid, row.file);
        await finishPurge(row);
        n++;
      }
      return n;
    },
    createCollection: (name) => records.createCollection(name, now()),
    deleteCollection: (id) => records.deleteCollection(id),
    listCollections: () => records.listCollections(),
    addToCollection: (id, uids) => records.addToCollection(id, uids, now()),
    removeFromCollection: (id, uids) => records.removeFromCollection(id, uids),
    models: () => records.models(),
    recall: (uid) => recallRecipe(must(uid)),
    remix: (request) => remixRecipes(must(request.uid), request),
    async exportSelection(uids, folder) {
      const target = path.resolve(folder);
      if (fs.existsSync(target) && fs.readdirSync(target).length > 0) throw new GalleryError('CONFLICT', `${target} is not empty`);
      fs.mkdirSync(target, { recursive: true });
      const images = uids.map(must);
      const entries = [];
      for (const image of images) {
        const name = `${image.uid}${path.posix.extname(image.file)}`;
        await fs.promises.copyFile(resolveInside(library.folder, image.file), path.join(target, name));
        entries.push({
          uid: image.uid,
          file: name,
          contentHash: image.contentHash,
          createdAt: image.createdAt,
          recipe: image.recipe,
          hasRecipe: image.hasRecipe,
          rating: image.rating,
          favourite: image.favourite,
          tags: image.tags,
        });
      }
      const manifest = { format: 'dimba-gallery-export', version: 1, images: entries };
      fs.writeFileSync(path.join(target, EXPORT_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
      return { folder: target, count: entries.length };
    },
    async importExport(folder) {
      const source = path.resolve(folder);
      let manifest: z.output<typeof exportManifestSchema>;
      try {
        manifest = exportManifestSchema.parse(JSON.parse(fs.readFileSync(path.join(source, EXPORT_MANIFEST), 'utf8')));
      } catch (error) {
        throw new GalleryError('INVALID_INPUT', `${path.join(source, EXPORT_MANIFEST)} is not a gallery export (${error instanceof Error ? error.message.slice(0, 300) : String(error)})`);
      }
      const result: ImportExportResult = { imported: 0, duplicates: 0, failed: [] };
      for (const entry of manifest.images) {
        try {
          // The manifest is untrusted: its file names stay inside the export folder.
          const bytes = await fs.promises.readFile(resolveInside(source, entry.file));
          if (sha256(bytes) !== entry.contentHash) throw new GalleryError('INVALID_INPUT', 'content hash does not match the manifest');
          const r = await importImage(bytes, {
            ...(entry.hasRecipe ? { recipe: entry.recipe } : {}),
            tags: entry.tags,
            createdAt: entry.createdAt,
            rating: entry.rating,
            favourite: entry.favourite,
          });
          if (r.duplicate) result.duplicates++;
          else result.imported++;
        } catch (error) {
          result.failed.push({ file: entry.file, reason: error instanceof Error ? error.message : String(error) });
        }
      }
      return result;
    },
    filePath: (uid) => resolveInside(library.folder, must(uid).file),
    thumbnail(uid) {
      const image = must(uid);
      return files.thumbnail(image.uid, image.file);
    },
    sweep,
    close: () => library.close(),
  };
}

/** Opens (creating if needed) the library at `folder` and sweeps it. */
export async function openGallery(options: OpenGalleryOptions): Promise<GalleryService> {
  const library = openLibrary({ folder: options.folder, ...(options.check ? { check: options.check } : {}) });
  const gallery = createLibraryGallery(library, createImageFiles(library.folder), createSqliteImageRecords(library.db), options);
  if (options.sweep !== false) {
    try {
      const report = await gallery.sweep();
      if (Object.values(report).some((n) => n > 0)) options.log?.(`gallery sweep: ${JSON.stringify(report)}`);
    } catch (error) {
      library.close();
      throw error;
    }
  }
  return gallery;
}
