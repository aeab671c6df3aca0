// The writing process the crash test kills: opens the gallery (sweeping what the last kill left)
// and saves images in a loop, printing one line per committed save. With --purge, every fourth
// image is trashed and purged right after, announced ("purging") before the purge starts.
import { openGallery } from '../../../main/services/gallery/gallery.library.js';
import { dimbaRecipe, galleryRecipe, generatedPng } from './fixtures.js';

const folder = process.argv[2];
if (!folder) throw new Error('usage: crash-writer.ts LIBRARY_FOLDER [--purge]');
const purging = process.argv.includes('--purge');
const gallery = await openGallery({ folder });
process.stdout.write('ready\n');
for (let n = 0; ; n++) {
  const r = dimbaRecipe({ prompt: `crash loop ${process.pid} ${n}`, seed: String(n) });
  const image = await gallery.saveGenerated({ png: generatedPng(r, n), recipe: galleryRecipe(r), durationMs: n });
  if (n % 3 === 0) gallery.addTags(image.uid, [`t${n % 7}`]);
  process.stdout.write(`saved ${image.uid}\n`);
  if (purging && n % 4 === 1) {
    gallery.trash([image.uid]);
    process.stdout.write(`purging ${image.uid}\n`);
    await gallery.purge([image.uid]);
  }
}
