// A library of COUNT synthetic images for the gallery benchmarks: real small PNG files (a few
// distinct 16x16 images with recipe chunks, written without fsync: set-up, not what is
// measured) and rows through the records module in one transaction. Prompts draw from a skewed
// vocabulary, so some words match a third of the library and some a handful. Needs
// `npm run build:main`.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => path.join(root, 'dist', 'main', p);

export const words = Array.from({ length: 400 }, (_, i) => `w${i.toString(36)}${'abcdefghij'[i % 10]}`);
export const common = ['fox', 'portrait', 'landscape', 'city', 'night'];

/**
 * Fills `folder` (a library folder) with `count` images (and their thumbnails when
 * `options.thumbnails`); returns the PNGs it used.
 */
export async function seedLibrary(folder, count, options = {}) {
  const { openLibrary } = await import(dist('services/library/library.js'));
  const { createSqliteImageRecords } = await import(dist('services/gallery/records.sqlite.js'));
  const { encodePng } = await import(dist('services/images/png.js'));
  const { recipeChunks } = await import(dist('services/images/recipe-chunks.js'));
  let rng = 12345;
  const rand = () => ((rng = (rng * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const zipf = () => words[Math.floor(words.length * rand() ** 3)];
  fs.mkdirSync(folder, { recursive: true });
  const lib = openLibrary({ folder });
  const records = createSqliteImageRecords(lib.db);
  const pngs = Array.from({ length: 8 }, (_, k) => {
    const rgb = new Uint8Array(16 * 16 * 3).map((_, i) => (i * (k + 3)) & 0xff);
    return encodePng({ width: 16, height: 16, rgb }, recipeChunks({
      format: 'dimba-recipe', version: 1, prompt: `bench ${k}`, negativePrompt: '', seed: k, steps: 20, guidance: 4.5,
      sampler: 'dpm++2m', width: 16, height: 16, model: { id: 'dimba-l-512', name: 'Dimba-L', manifestHash: 'fnv1a64:00' },
      engine: { version: '0.1.0', backend: 'cpu' },
    }));
  });
  const start = Date.UTC(2025, 0, 1);
  lib.db.transaction(() => {
    for (let n = 0; n < count; n++) {
      const uid = randomBytes(16).toString('hex');
      const createdAt = start + n * 60_000;
      const d = new Date(createdAt);
      const dir = `images/${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
      if (n === 0 || d.getUTCDate() === 1) fs.mkdirSync(path.join(folder, dir), { recursive: true });
      const file = `${dir}/${uid}.png`;
      const png = pngs[n % pngs.length];
      fs.writeFileSync(path.join(folder, file), png);
      const promptWords = Array.from({ length: 8 + (n % 8) }, zipf);
      if (n % 3 === 0) promptWords.push(common[n % common.length]);
      const model = `model-${n % 7}`;
      const image = records.insert({
        uid, file, width: 16, height: 16, bytes: png.length, contentHash: `h${n}`, createdAt, source: 'generated', hasRecipe: true,
        recipe: {
          prompt: promptWords.join(' '), negativePrompt: n % 2 ? 'blurry, low quality' : '', seed: String(n * 7919),
          steps: 20, guidance: 4.5, sampler: 'dpm++2m', width: 16, height: 16,
          model: { id: model, name: model, hash: 'fnv1a64:00' }, adapters: [], engineVersion: '0.1.0', backend: 'cpu',
        },
        durationMs: 1000, tags: n % 10 === 0 ? ['keeper', `batch${n % 50}`] : [],
      });
      if (n % 5 === 0) records.setRating(image.uid, n % 6);
    }
  })();
  lib.db.pragma('wal_checkpoint(TRUNCATE)');
  if (options.thumbnails) {
    // Thumbnails as the studio makes them, for the first image of each distinct PNG; every
    // other image with the same bytes gets a copy (a library that has been browsed before).
    const { createImageFiles } = await import(dist('services/gallery/files.js'));
    const files = createImageFiles(folder);
    const rows = lib.db.prepare('SELECT uid, file FROM images ORDER BY id').all();
    const made = [];
    for (let k = 0; k < pngs.length && k < rows.length; k++) made.push(fs.readFileSync(await files.thumbnail(rows[k].uid, rows[k].file)));
    for (let n = pngs.length; n < rows.length; n++) fs.writeFileSync(path.join(folder, 'thumbs', `${rows[n].uid}.webp`), made[n % pngs.length]);
  }
  lib.close();
  return { pngs };
}
