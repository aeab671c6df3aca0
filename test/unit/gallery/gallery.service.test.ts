import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { GalleryService } from '../../../main/services/gallery/gallery.js';
import { openGallery } from '../../../main/services/gallery/gallery.library.js';
import { createSqliteImageRecords } from '../../../main/services/gallery/records.sqlite.js';
import { openLibrary } from '../../../main/services/library/library.js';
import { useTempFolders } from '../support/temp.js';
import { dimbaRecipe, galleryRecipe, generatedPng } from './fixtures.js';

const tempFolder = useTempFolders();
const open: GalleryService[] = [];
afterEach(() => {
  for (const g of open.splice(0)) g.close();
});

async function gallery(folder = tempFolder(), now?: () => number): Promise<GalleryService> {
  const g = await openGallery({ folder, ...(now ? { now } : {}) });
  open.push(g);
  return g;
}

async function save(g: GalleryService, n: number, over: Parameters<typeof dimbaRecipe>[0] = {}, createdAt?: number) {
  const r = dimbaRecipe({ seed: String(n), ...over });
  return g.saveGenerated({ png: generatedPng(r, n), recipe: galleryRecipe(r), durationMs: 1234, ...(createdAt !== undefined ? { createdAt } : {}) });
}

describe('gallery: save, get, recall', () => {
  it('keeps the file and the full recipe, and recall hands back the generate form', async () => {
    const g = await gallery();
    const image = await save(g, 7);
    expect(image.source).toBe('generated');
    expect(image.width).toBe(16);
    expect(image.recipe.model).toEqual({ id: 'dimba-l-512', name: 'Dimba-L 512px', hash: 'fnv1a64:0123456789abcdef' });
    expect(image.durationMs).toBe(1234);
    expect(fs.existsSync(g.filePath(image.uid))).toBe(true);
    expect(g.get(image.uid)).toEqual(image);
    expect(g.recall(image.uid)).toEqual({
      prompt: 'a red fox in snow',
      negativePrompt: 'blurry',
      modelId: 'dimba-l-512',
      seed: '7',
      steps: 20,
      guidance: 4.5,
      sampler: 'dpm++2m',
      width: 16,
      height: 16,
    });
    expect(() => g.get('nope')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });

  it('remix: same seed with an edited prompt, a new seed with the same prompt, N distinct variations', async () => {
    const g = await gallery();
    const image = await save(g, 42);
    const [edited] = g.remix({ kind: 'edit-prompt', uid: image.uid, prompt: 'a blue fox' });
    expect(edited).toMatchObject({ prompt: 'a blue fox', seed: '42', steps: 20, negativePrompt: 'blurry' });
    const [fresh] = g.remix({ kind: 'new-seed', uid: image.uid });
    expect(fresh?.prompt).toBe('a red fox in snow');
    expect(fresh?.seed).not.toBe('42');
    const variations = g.remix({ kind: 'variations', uid: image.uid, count: 8 });
    expect(variations).toHaveLength(8);
    expect(new Set(variations.map((v) => v.seed)).size).toBe(8);
    expect(variations.every((v) => v.prompt === 'a red fox in snow' && v.seed !== '42' && /^\d+$/.test(v.seed ?? ''))).toBe(true);
  });

  it('a 10,000-character prompt is kept whole and found by search', async () => {
    const g = await gallery();
    const prompt = `zebracorn ${'x'.repeat(9_990)}`;
    expect(prompt.length).toBe(10_000);
    const image = await save(g, 1, { prompt });
    expect(g.get(image.uid).recipe.prompt).toBe(prompt);
    expect(g.list({ text: 'zebracorn' }).items.map((i) => i.uid)).toEqual([image.uid]);
  });
});

describe('gallery: list, filters, sorts, cursor pagination', () => {
  it('pages through every image exactly once in each sort and order', async () => {
    const g = await gallery();
    for (let n = 0; n < 23; n++) {
      const image = await save(g, n * 1000, { prompt: `prompt ${String.fromCharCode(97 + (n % 26))}`, model: { id: `m${n % 3}`, name: 'M', manifestHash: 'h' } }, 1_000 + (n % 5));
      g.setRating(image.uid, n % 6);
    }
    for (const sort of ['created', 'rating', 'prompt', 'model', 'seed'] as const) {
      for (const order of ['asc', 'desc'] as const) {
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = g.list({ sort, order, limit: 5, ...(cursor ? { cursor } : {}) });
          seen.push(...page.items.map((i) => i.uid));
          cursor = page.nextCursor;
          pages++;
        } while (cursor && pages < 50);
        expect(seen).toHaveLength(23);
        expect(new Set(seen).size).toBe(23);
        const all = g.list({ sort, order, limit: 500 }).items.map((i) => i.uid);
        expect(seen).toEqual(all);
      }
    }
    // Seeds sort as numbers, not as text: 2000 comes before 10000 ascending.
    const seeds = g.list({ sort: 'seed', order: 'asc', limit: 500 }).items.map((i) => Number(i.recipe.seed));
    expect(seeds).toEqual([...seeds].sort((a, b) => a - b));
    const ratings = g.list({ sort: 'rating', order: 'desc', limit: 500 }).items.map((i) => i.rating);
    expect(ratings).toEqual([...ratings].sort((a, b) => b - a));
  });

  it('filters by text, model, seed, tag, collection, rating and favourite', async () => {
    const g = await gallery();
    const fox = await save(g, 1, { prompt: 'a red fox in snow' });
    const owl = await save(g, 2, { prompt: 'an owl at night', model: { id: 'other', name: 'Other', manifestHash: 'h2' } });
    const cat = await save(g, 3, { prompt: 'a cat on a sofa' });
    g.addTags(owl.uid, ['nocturnal', 'bird']);
    g.setFavourite(cat.uid, true);
    g.setRating(fox.uid, 4);
    const col = g.createCollection('winter');
    g.addToCollection(col.id, [fox.uid, cat.uid]);
    const uids = (q: Parameters<GalleryService['list']>[0]) => g.list(q).items.map((i) => i.uid).sort();
    expect(uids({ text: 'fox' })).toEqual([fox.uid]);
    expect(uids({ text: 'fo' })).toEqual([fox.uid]); // words are prefixes
    expect(uids({ text: 'nocturnal' })).toEqual([owl.uid]); // tags are searched
    expect(uids({ modelId: 'other' })).toEqual([owl.uid]);
    expect(uids({ seed: '3' })).toEqual([cat.uid]);
    expect(uids({ tag: 'bird' })).toEqual([owl.uid]);
    expect(uids({ collectionId: col.id })).toEqual([fox.uid, cat.uid].sort());
    expect(uids({ minRating: 3 })).toEqual([fox.uid]);
    expect(uids({ favourite: true })).toEqual([cat.uid]);
    expect(g.listCollections()).toEqual([expect.objectContaining({ name: 'winter', count: 2 })]);
    expect(g.get(fox.uid).collectionIds).toEqual([col.id]);
    expect(g.get(owl.uid).collectionIds).toEqual([]);
    // Dates: [from, before).
    const at = (uid: string) => g.get(uid).createdAt;
    expect(uids({ createdFrom: at(owl.uid), createdBefore: at(owl.uid) + 1 })).toEqual(
      [fox, owl, cat].filter((i) => i.createdAt === at(owl.uid)).map((i) => i.uid).sort(),
    );
    expect(uids({ createdFrom: Math.max(at(fox.uid), at(owl.uid), at(cat.uid)) + 1 })).toEqual([]);
    expect(uids({ text: 'a', createdBefore: Math.min(at(fox.uid), at(owl.uid), at(cat.uid)) })).toEqual([]);
    expect(g.models()).toEqual([
      { id: 'dimba-l-512', name: 'Dimba-L 512px', count: 2 },
      { id: 'other', name: 'Other', count: 1 },
    ]);
    g.removeTags(owl.uid, ['nocturnal']);
    expect(uids({ text: 'nocturnal' })).toEqual([]);
    expect(() => g.createCollection('winter')).toThrow(expect.objectContaining({ code: 'CONFLICT' }));
  });

  it('hostile search text and bad cursors give results or typed errors, never SQL errors', async () => {
    const g = await gallery();
    await save(g, 1);
    for (const text of ['"', 'NEAR(', 'fox AND', '*', "'; DROP TABLE images; --", 'fox" OR "', '\u0000', '(((']) {
      expect(() => g.list({ text })).not.toThrow();
    }
    expect(g.list({ text: '"fox' }).items).toHaveLength(1);
    for (const cursor of ['garbage', Buffer.from('["created","desc",1]').toString('base64url'), Buffer.from('["seed","desc",1,"a",1]').toString('base64url')]) {
      expect(() => g.list({ cursor })).toThrow(expect.objectContaining({ code: 'INVALID_CURSOR' }));
    }
    expect(() => g.list({ limit: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });
});

describe('gallery: trash, restore, purge', () => {
  it('trashed images leave the lists, come back on restore, and purge removes row and file', async () => {
    const g = await gallery();
    const a = await save(g, 1);
    const b = await save(g, 2);
    expect(g.trash([a.uid])).toBe(1);
    expect(g.list().items.map((i) => i.uid)).toEqual([b.uid]);
    expect(g.list({ trashed: true }).items.map((i) => i.uid)).toEqual([a.uid]);
    expect(g.restore([a.uid])).toBe(1);
    expect(g.list().items).toHaveLength(2);
    g.trash([a.uid]);
    const file = g.filePath(a.uid);
    await g.thumbnail(a.uid);
    expect(await g.purge([b.uid])).toBe(0); // live images are never purged
    expect(await g.purge()).toBe(1);
    expect(fs.existsSync(file)).toBe(false);
    expect(fs.readdirSync(path.join(g.folder, 'thumbs'))).toEqual([]);
    expect(() => g.get(a.uid)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(g.get(b.uid).uid).toBe(b.uid);
    const db = new BetterSqlite3(path.join(g.folder, 'library.db'), { readonly: true });
    expect(db.prepare('SELECT count(*) AS n FROM purge_journal').get()).toEqual({ n: 0 });
    db.close();
  });

  it('a purge cut short after its row is deleted is finished by the sweep, not adopted back', async () => {
    const folder = tempFolder();
    const g = await gallery(folder);
    const doomed = await save(g, 1, { prompt: 'purged heron' });
    const kept = await save(g, 2);
    g.trash([doomed.uid]);
    await g.thumbnail(doomed.uid);
    g.close();
    open.length = 0;
    // The state a kill leaves between the purge's transaction and the unlink: the row is gone,
    // the journal names the file, the file and its thumbnail are still on disk.
    const lib = openLibrary({ folder });
    createSqliteImageRecords(lib.db).purgeRow(doomed.uid, doomed.file);
    lib.close();
    expect(fs.existsSync(path.join(folder, doomed.file))).toBe(true);

    const g2 = await openGallery({ folder, sweep: false });
    open.push(g2);
    expect(await g2.sweep()).toEqual({
      removedTempFiles: 0,
      removedRowsWithoutFile: 0,
      adoptedFiles: 0,
      quarantinedFiles: 0,
      removedThumbnails: 0,
      finishedPurges: 1,
    });
    expect(fs.existsSync(path.join(folder, doomed.file))).toBe(false);
    expect(fs.readdirSync(path.join(folder, 'thumbs'))).toEqual([]);
    expect(g2.list({ trashed: true }).items).toEqual([]);
    expect(g2.list().items.map((i) => i.uid)).toEqual([kept.uid]);
    expect((await g2.sweep()).finishedPurges).toBe(0);
  });
});

describe('gallery: thumbnails and paths', () => {
  it('makes a WebP thumbnail once and serves the cached file after', async () => {
    const g = await gallery();
    const image = await save(g, 1);
    const first = await g.thumbnail(image.uid);
    const bytes = fs.readFileSync(first);
    expect(bytes.subarray(8, 12).toString('latin1')).toBe('WEBP');
    const before = fs.statSync(first).mtimeMs;
    const [again, third] = await Promise.all([g.thumbnail(image.uid), g.thumbnail(image.uid)]);
    expect(again).toBe(first);
    expect(third).toBe(first);
    expect(fs.statSync(first).mtimeMs).toBe(before);
  });

  it('an image row whose file path leads outside the library is refused', async () => {
    const folder = tempFolder();
    const g = await gallery(folder);
    const image = await save(g, 1);
    g.close();
    open.length = 0;
    const db = new BetterSqlite3(path.join(folder, 'library.db'));
    db.prepare('UPDATE images SET file = ? WHERE uid = ?').run('../../etc/passwd', image.uid);
    db.close();
    const g2 = await openGallery({ folder, sweep: false });
    open.push(g2);
    expect(() => g2.filePath(image.uid)).toThrow(expect.objectContaining({ code: 'PATH_OUTSIDE_LIBRARY' }));
  });
});

describe('gallery: export and import', () => {
  it('exports a selection (files + recipes.json) and imports it into another library intact', async () => {
    const g = await gallery();
    const a = await save(g, 1, { prompt: 'exported fox' });
    const b = await save(g, 2, { prompt: 'exported owl' });
    await save(g, 3, { prompt: 'stays home' });
    g.addTags(a.uid, ['keeper']);
    g.setRating(a.uid, 5);
    g.setFavourite(b.uid, true);
    const out = path.join(tempFolder(), 'export');
    expect(await g.exportSelection([a.uid, b.uid], out)).toEqual({ folder: out, count: 2 });
    expect(fs.readdirSync(out).sort()).toEqual([`${a.uid}.png`, `${b.uid}.png`, 'recipes.json'].sort());

    const other = await gallery();
    expect(await other.importExport(out)).toEqual({ imported: 2, duplicates: 0, failed: [] });
    const items = other.list({ sort: 'prompt', order: 'asc' }).items;
    expect(items.map((i) => i.recipe.prompt)).toEqual(['exported fox', 'exported owl']);
    expect(items[0]).toMatchObject({ rating: 5, tags: ['keeper'], recipe: a.recipe, createdAt: a.createdAt, contentHash: a.contentHash });
    expect(items[1]?.favourite).toBe(true);
    // Importing again stores nothing new.
    expect(await other.importExport(out)).toEqual({ imported: 0, duplicates: 2, failed: [] });
  });

  it('a hostile export manifest cannot read outside its folder and reports, not crashes', async () => {
    const g = await gallery();
    const a = await save(g, 1);
    const out = path.join(tempFolder(), 'export');
    await g.exportSelection([a.uid], out);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'recipes.json'), 'utf8')) as { images: { file: string }[] };
    manifest.images[0]!.file = '../../../etc/passwd';
    fs.writeFileSync(path.join(out, 'recipes.json'), JSON.stringify(manifest));
    const other = await gallery();
    const result = await other.importExport(out);
    expect(result.imported).toBe(0);
    expect(result.failed[0]?.reason).toMatch(/not inside/);
    fs.writeFileSync(path.join(out, 'recipes.json'), '{"format": "something else"');
    await expect(other.importExport(out)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});

describe('gallery: the sweep on open', () => {
  it('removes temp files and rows without files, adopts complete files, quarantines non-images', async () => {
    const folder = tempFolder();
    const g = await gallery(folder);
    const kept = await save(g, 1);
    const lost = await save(g, 2);
    g.close();
    open.length = 0;
    fs.rmSync(path.join(folder, lost.file));
    fs.mkdirSync(path.join(folder, 'tmp'), { recursive: true });
    fs.writeFileSync(path.join(folder, 'tmp', 'half.part'), 'partial');
    const orphanUid = 'ab'.repeat(16);
    fs.writeFileSync(path.join(folder, 'images', `${orphanUid}.png`), generatedPng(dimbaRecipe({ prompt: 'orphaned heron', seed: '99' }), 9));
    fs.writeFileSync(path.join(folder, 'images', 'notes.txt'), 'not an image');
    const logs: string[] = [];
    const g2 = await openGallery({ folder, log: (m) => logs.push(m) });
    open.push(g2);
    const uids = g2.list().items.map((i) => i.uid).sort();
    expect(uids).toEqual([kept.uid, orphanUid].sort());
    expect(g2.get(orphanUid).recipe).toMatchObject({ prompt: 'orphaned heron', seed: '99' });
    expect(fs.readdirSync(path.join(folder, 'tmp'))).toEqual([]);
    expect(fs.readdirSync(path.join(folder, 'quarantine')).some((n) => n.endsWith('notes.txt'))).toBe(true);
    expect(logs.join('\n')).toMatch(/"removedRowsWithoutFile":1.*"adoptedFiles":1.*"quarantinedFiles":1/);
    expect(await g2.sweep()).toEqual({ removedTempFiles: 0, removedRowsWithoutFile: 0, adoptedFiles: 0, quarantinedFiles: 0, removedThumbnails: 0, finishedPurges: 0 });
  });
});
