import { describe, expect, it } from 'vitest';
import { galleryListQuerySchema, type GalleryListQueryInput } from '../../../main/api/gallery.js';
import { openLibrary } from '../../../main/services/library/library.js';
import { createSqliteImageRecords } from '../../../main/services/gallery/records.sqlite.js';
import { emptyRecipe } from '../../../main/services/gallery/metadata.js';
import { useTempFolders } from '../support/temp.js';

const tempFolder = useTempFolders();

describe('gallery records: date-sorted search', () => {
  it('matches a full sort of every match, whether or not ids follow dates, across batches and pages', () => {
    const lib = openLibrary({ folder: tempFolder() });
    try {
      const records = createSqliteImageRecords(lib.db);
      let rng = 7;
      const rand = () => ((rng = (rng * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
      const rows: { uid: string; createdAt: number; prompt: string; trashed: boolean }[] = [];
      lib.db.transaction(() => {
        for (let n = 0; n < 3000; n++) {
          // Mostly increasing dates (generated), with a fifth far in the past or future (imports).
          const createdAt = rand() < 0.2 ? Math.floor(rand() * 10_000_000) : 5_000_000 + n * 10 + (n % 3);
          const prompt = `${n % 2 ? 'common' : 'other'} ${n % 97 === 0 ? 'rare' : ''} word${n % 5}`;
          const uid = `u${n}`;
          records.insert({ uid, file: `images/${uid}.png`, width: 1, height: 1, bytes: 1, contentHash: `h${n}`, createdAt, source: 'imported', hasRecipe: true, recipe: { ...emptyRecipe(), prompt }, durationMs: null });
          rows.push({ uid, createdAt, prompt, trashed: false });
        }
      })();
      const trashed = rows.filter((_, n) => n % 11 === 0).map((r) => r.uid);
      records.trash(trashed, 1);
      for (const r of rows) r.trashed = trashed.includes(r.uid);
      for (const [word, order] of [['common', 'desc'], ['common', 'asc'], ['rare', 'desc'], ['word3', 'asc']] as const) {
        const expected = rows
          .filter((r) => !r.trashed && r.prompt.split(' ').includes(word))
          .sort((a, b) => (a.createdAt - b.createdAt || Number(a.uid.slice(1)) - Number(b.uid.slice(1))) * (order === 'desc' ? -1 : 1))
          .map((r) => r.uid);
        const got: string[] = [];
        let cursor: string | undefined;
        do {
          const q: GalleryListQueryInput = { text: word, order, limit: 200, ...(cursor ? { cursor } : {}) };
          const page = records.list(galleryListQuerySchema.parse(q));
          got.push(...page.items.map((i) => i.uid));
          cursor = page.nextCursor;
        } while (cursor);
        expect(got).toEqual(expected);
      }
    } finally {
      lib.close();
    }
  });
});
