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

describe('gallery records: search in the other sorts', () => {
  it('equals a full sort of every match, for few (sorted) and many (index walk) matches, with filters and pages', () => {
    const lib = openLibrary({ folder: tempFolder() });
    try {
      const records = createSqliteImageRecords(lib.db);
      type Row = { id: number; uid: string; createdAt: number; prompt: string; rating: number; model: string; seed: string; trashed: boolean };
      const rows: Row[] = [];
      lib.db.transaction(() => {
        for (let n = 0; n < 6000; n++) {
          // 'common' in 5/6 of the rows (more than are sorted whole), 'rare' in 1/40.
          const prompt = `${n % 6 ? 'common' : 'plain'} ${n % 40 === 0 ? 'rare' : ''} p${(n * 7919) % 1000}`;
          const uid = `u${n}`;
          const seed = String((n * 104729) % 100_003);
          const model = `m${n % 3}`;
          const createdAt = 1_000_000 + ((n * 31) % 6000) * 10;
          records.insert({ uid, file: `images/${uid}.png`, width: 1, height: 1, bytes: 1, contentHash: `h${n}`, createdAt, source: 'imported', hasRecipe: true, recipe: { ...emptyRecipe(), prompt, seed, model: { id: model, name: model, hash: '' } }, durationMs: null });
          const rating = n % 7 === 0 ? (n % 5) + 1 : 0;
          if (rating) records.setRating(uid, rating);
          rows.push({ id: n + 1, uid, createdAt, prompt, rating, model, seed, trashed: false });
        }
      })();
      const trashed = rows.filter((r) => r.id % 13 === 0).map((r) => r.uid);
      records.trash(trashed, 1);
      for (const r of rows) r.trashed = trashed.includes(r.uid);
      const cmp = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);
      const keys: Record<'rating' | 'prompt' | 'model' | 'seed', (r: Row) => (string | number)[]> = {
        rating: (r) => [r.rating, r.createdAt, r.id],
        prompt: (r) => [r.prompt, r.id],
        model: (r) => [r.model, r.createdAt, r.id],
        seed: (r) => [r.seed.length, r.seed, r.id],
      };
      const cases = [
        { word: 'common', sort: 'rating', order: 'desc' },
        { word: 'common', sort: 'prompt', order: 'asc' },
        { word: 'common', sort: 'seed', order: 'desc', minRating: 2 },
        { word: 'common', sort: 'model', order: 'asc', modelId: 'm1' },
        { word: 'rare', sort: 'rating', order: 'desc' },
        { word: 'rare', sort: 'seed', order: 'asc' },
        { word: 'p1', sort: 'prompt', order: 'desc' },
        // Dense overall but absent from the first thousand rows of this order ('plain' sorts
        // after 'common'): asking row by row gives up, the match set answers.
        { word: 'common', sort: 'prompt', order: 'desc' },
      ] as const;
      for (const c of cases) {
        const expected = rows
          .filter((r) => !r.trashed && r.prompt.split(' ').some((w) => w.startsWith(c.word)))
          .filter((r) => !('minRating' in c) || r.rating >= c.minRating)
          .filter((r) => !('modelId' in c) || r.model === c.modelId)
          .sort((a, b) => {
            const ka = keys[c.sort](a);
            const kb = keys[c.sort](b);
            const d = ka.map((k, i) => cmp(k, kb[i]!)).find((x) => x !== 0) ?? 0;
            return c.order === 'desc' ? -d : d;
          })
          .map((r) => r.uid);
        const got: string[] = [];
        let cursor: string | undefined;
        do {
          const { word, ...rest } = c;
          const q: GalleryListQueryInput = { ...rest, text: word, limit: 500, ...(cursor ? { cursor } : {}) };
          const page = records.list(galleryListQuerySchema.parse(q));
          got.push(...page.items.map((i) => i.uid));
          cursor = page.nextCursor;
        } while (cursor);
        expect(got, JSON.stringify(c)).toEqual(expected);
      }
      // A new match right after a search shows up in the same search (no stale match set).
      const query = galleryListQuerySchema.parse({ text: 'common', sort: 'prompt', order: 'desc' });
      const first = records.list(query).items[0];
      records.insert({ uid: 'newest', file: 'images/newest.png', width: 1, height: 1, bytes: 1, contentHash: 'hn', createdAt: 10_000_000, source: 'imported', hasRecipe: true, recipe: { ...emptyRecipe(), prompt: 'common zzz newest' }, durationMs: null });
      const again = records.list(query).items;
      expect(first?.uid).not.toBe('newest');
      expect(again[0]?.uid).toBe('newest');
      expect(again[1]?.uid).toBe(first?.uid);
    } finally {
      lib.close();
    }
  });
});
