// Measures the gallery at scale: 100,000 images (synthetic rows with real small PNG files).
// Prints library open (integrity check + migrations), the start-up sweep, the first page in each
// sort, text searches of common and rare words (p50 and p95 over repeated runs), a save with
// fsync, and a thumbnail made and then served from the cache. The machine is noisy: quote medians.
//   npm run build:main && node scripts/bench-gallery.mjs [COUNT]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => path.join(root, 'dist', 'main', p);
const { openLibrary } = await import(dist('services/library/library.js'));
const { openGallery } = await import(dist('services/gallery/gallery.library.js'));

const COUNT = Number(process.argv[2] ?? 100_000);
const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'dimba-bench-gallery-'));
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const fmt = (x) => `${x.toFixed(2)} ms`;
function time(fn) {
  const t = performance.now();
  fn();
  return performance.now() - t;
}
async function timeAsync(fn) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}
function report(name, runs) {
  console.log(`${name.padEnd(52)} p50 ${fmt(pct(runs, 0.5)).padStart(10)}  p95 ${fmt(pct(runs, 0.95)).padStart(10)}  (n=${runs.length})`);
}

const { words, seedLibrary } = await import('./gallery-seed.mjs');

try {
  console.log(`gallery bench: ${COUNT} images in ${folder}`);
  // Populate: real files (a few distinct tiny PNGs, no fsync: this is set-up, not what is measured)
  // and rows through the records module in one transaction.
  const t0 = performance.now();
  const { pngs } = await seedLibrary(folder, COUNT);
  const dbBytes = fs.statSync(path.join(folder, 'library.db')).size;
  console.log(`populated in ${((performance.now() - t0) / 1000).toFixed(1)} s; library.db ${(dbBytes / 2 ** 20).toFixed(1)} MiB`);

  const opens = [];
  for (let i = 0; i < 5; i++) opens.push(time(() => openLibrary({ folder }).close()));
  report('open library, clean (schema check + migrate)', opens);
  const quickOpens = [];
  for (let i = 0; i < 3; i++) quickOpens.push(time(() => openLibrary({ folder, check: 'quick' }).close()));
  report('open library after a crash (quick_check)', quickOpens);
  report('open library (full integrity_check)', [time(() => openLibrary({ folder, check: 'full' }).close())]);
  const sweeps = [];
  for (let i = 0; i < 3; i++) sweeps.push(await timeAsync(async () => (await openGallery({ folder })).close()));
  report(`open gallery + sweep (${COUNT} files)`, sweeps);

  const g = await openGallery({ folder, sweep: false });
  const runs = 200;
  for (const sort of ['created', 'rating', 'prompt', 'model', 'seed']) {
    const xs = [];
    for (let i = 0; i < runs; i++) xs.push(time(() => g.list({ sort, limit: 50 })));
    report(`first page, sort ${sort} (50 items)`, xs);
  }
  {
    let cursor = g.list({ limit: 50 }).nextCursor;
    const xs = [];
    for (let i = 0; i < 100 && cursor; i++) xs.push(time(() => (cursor = g.list({ limit: 50, cursor }).nextCursor)));
    report('next pages (cursor), sort created', xs);
  }
  // Searches in every sort. The texts take turns, so no run reuses the previous one's match
  // set (the records keep the last query's matches for its next pages).
  const matches = (text) => g.list({ text, limit: 500 }).items.length;
  const texts = ['fox', words[0], words[40], words[399], 'keeper', `${words[0]} fox`, 'w1', 'w'];
  for (const sort of ['created', 'rating', 'prompt', 'model', 'seed']) {
    const xs = new Map(texts.map((t) => [t, []]));
    for (let i = 0; i < runs / 4; i++) for (const text of texts) xs.get(text).push(time(() => g.list({ text, sort, limit: 50 })));
    for (const text of texts) report(`search "${text}" (${matches(text) >= 500 ? '500+' : matches(text)} hits), sort ${sort}`, xs.get(text));
  }
  {
    const xs = [];
    for (let i = 0; i < runs / 4; i++) {
      for (const text of texts) {
        let cursor = g.list({ text, sort: 'rating', limit: 50 }).nextCursor;
        if (cursor) xs.push(time(() => g.list({ text, sort: 'rating', limit: 50, cursor })));
      }
    }
    report('search, second page (cursor), sort rating', xs);
  }
  {
    const xs = [];
    for (let i = 0; i < runs; i++) xs.push(time(() => g.list({ modelId: 'model-3', minRating: 3, limit: 50 })));
    report('filter model + rating >= 3', xs);
  }
  const png = pngs[0];
  const saves = [];
  for (let i = 0; i < 30; i++) {
    saves.push(await timeAsync(() => g.saveGenerated({
      png: Buffer.concat([png]), recipe: g.get(g.list({ limit: 1 }).items[0].uid).recipe, durationMs: 1,
    })));
  }
  report('saveGenerated (write + fsync + rename + row)', saves);
  const uid = g.list({ limit: 1 }).items[0].uid;
  report('thumbnail, first (sharp -> WebP)', [await timeAsync(() => g.thumbnail(uid))]);
  const cached = [];
  for (let i = 0; i < 50; i++) cached.push(await timeAsync(() => g.thumbnail(uid)));
  report('thumbnail, cached', cached);
  g.close();
} finally {
  fs.rmSync(folder, { recursive: true, force: true });
}
