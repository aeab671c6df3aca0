// A tuning dataset: the images a source names (a gallery collection, a selection of gallery
// images, or a folder of image files), each with the caption its recipe gives, and the checks
// that run before any compute: enough images, every one readable (fully decoded, so a truncated
// file is caught here, not in the engine), none smaller than the model's resolution on either
// side (the engine would train on upsampled blur).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { DatasetItem, DatasetProblem, DatasetSource } from '../../api/tuning.js';
import type { GalleryService } from '../gallery/gallery.js';

/** Fewer images than this make a run that only memorises. */
export const MIN_TUNING_IMAGES = 4;

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff', '.avif']);
const MAX_IMAGES = 10_000;

export interface DatasetEntry {
  key: string;
  name: string;
  /** Absolute path of the image file. */
  file: string;
  recipeCaption: string;
}

/** The gallery as a dataset source needs it. */
export type DatasetGallery = Pick<GalleryService, 'get' | 'list' | 'filePath'>;

/** The entries a source names, in a stable order. Unknown gallery uids are left out by the caller's check. */
export async function collectDataset(source: DatasetSource, gallery: DatasetGallery | undefined): Promise<DatasetEntry[]> {
  if (source.kind === 'folder') {
    const names = (await fs.readdir(source.path, { withFileTypes: true }))
      .filter((d) => d.isFile() && IMAGE_EXTENSIONS.has(path.extname(d.name).toLowerCase()))
      .map((d) => d.name)
      .sort()
      .slice(0, MAX_IMAGES);
    return names.map((name) => ({ key: name, name, file: path.join(source.path, name), recipeCaption: '' }));
  }
  if (!gallery) throw new Error('the gallery is unavailable');
  const entry = (uid: string): DatasetEntry => {
    const im = gallery.get(uid);
    return { key: uid, name: path.basename(im.file), file: gallery.filePath(uid), recipeCaption: im.recipe.prompt };
  };
  if (source.kind === 'selection') return source.uids.map(entry);
  const out: DatasetEntry[] = [];
  let cursor: string | undefined;
  do {
    const page = gallery.list({ collectionId: source.id, limit: 500, ...(cursor ? { cursor } : {}) });
    for (const im of page.items) out.push(entry(im.uid));
    cursor = page.nextCursor;
  } while (cursor && out.length < MAX_IMAGES);
  return out;
}

/** Each entry decoded once: its size, or why it cannot be read; then the set's problems. */
export async function checkDataset(
  entries: readonly DatasetEntry[],
  resolution: number,
  minImages = MIN_TUNING_IMAGES,
): Promise<{ items: DatasetItem[]; problems: DatasetProblem[] }> {
  const items: DatasetItem[] = [];
  const problems: DatasetProblem[] = [];
  if (entries.length === 0) {
    problems.push({ code: 'EMPTY_SOURCE', key: null, message: 'the source holds no images' });
  }
  for (const e of entries) {
    let width: number | null = null;
    let height: number | null = null;
    try {
      const { info } = await sharp(e.file, { failOn: 'error' }).rotate().raw().toBuffer({ resolveWithObject: true });
      width = info.width;
      height = info.height;
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      problems.push({ code: 'UNREADABLE_IMAGE', key: e.key, message: `${e.name} cannot be read: ${why}` });
    }
    if (width !== null && height !== null && (width < resolution || height < resolution)) {
      problems.push({
        code: 'IMAGE_TOO_SMALL',
        key: e.key,
        message: `${e.name} is ${width}x${height}, smaller than the model's ${resolution}x${resolution}`,
      });
    }
    items.push({ key: e.key, name: e.name, recipeCaption: e.recipeCaption, width, height });
  }
  const usable = items.length - new Set(problems.filter((p) => p.key !== null).map((p) => p.key)).size;
  if (entries.length > 0 && usable < minImages) {
    problems.push({
      code: 'TOO_FEW_IMAGES',
      key: null,
      message: `${usable} usable image${usable === 1 ? '' : 's'}; a tuning run needs at least ${minImages}`,
    });
  }
  return { items, problems };
}

/** The caption an image trains with: the user's words, else its recipe's; the trigger first. */
export function captionFor(entry: Pick<DatasetEntry, 'key' | 'recipeCaption'>, edits: Record<string, string>, trigger: string): string {
  const own = (edits[entry.key] ?? entry.recipeCaption).trim();
  const t = trigger.trim();
  if (!t) return own;
  return own ? `${t}, ${own}` : t;
}
