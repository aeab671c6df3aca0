import { afterEach, describe, expect, it } from 'vitest';
import { ApiError, methods } from '../../../main/api/index.js';
import type { GalleryService } from '../../../main/services/gallery/gallery.js';
import { openGallery } from '../../../main/services/gallery/gallery.library.js';
import { galleryHandlers } from '../../../main/rpc/gallery.js';
import { useTempFolders } from '../support/temp.js';
import { dimbaRecipe, galleryRecipe, generatedPng } from './fixtures.js';

const tempFolder = useTempFolders();
const open: GalleryService[] = [];
afterEach(() => {
  for (const g of open.splice(0)) g.close();
});

describe('gallery API', () => {
  it('handler results satisfy the contract; gallery errors cross as typed API errors', async () => {
    const g = await openGallery({ folder: tempFolder() });
    open.push(g);
    const r = dimbaRecipe();
    const image = await g.saveGenerated({ png: generatedPng(r), recipe: galleryRecipe(r), durationMs: 5 });
    const h = galleryHandlers(() => g);
    const page = await h['gallery.list'](methods['gallery.list'].params.parse({ text: 'fox' }));
    expect(methods['gallery.list'].result.parse(page).items.map((i) => i.uid)).toEqual([image.uid]);
    const recalled = await h['gallery.recall']({ uid: image.uid });
    expect(methods['gallery.recall'].result.parse(recalled).seed).toBe(String(r.seed));
    const remix = await h['gallery.remix'](methods['gallery.remix'].params.parse({ kind: 'variations', uid: image.uid, count: 3 }));
    expect(methods['gallery.remix'].result.parse(remix).recipes).toHaveLength(3);

    await expect(h['gallery.get']({ uid: 'missing' })).rejects.toEqual(expect.objectContaining({ code: 'NOT_FOUND' }));
    const bad = h['gallery.list'](methods['gallery.list'].params.parse({ cursor: 'not-a-cursor' }));
    await expect(bad).rejects.toBeInstanceOf(ApiError);
    await expect(bad).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
    await expect(h['gallery.importFile']({ path: '/definitely/not/here.png' })).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
    // The schemas refuse what the service would refuse, before any handler runs.
    expect(methods['gallery.setRating'].params.safeParse({ uid: image.uid, rating: 9 }).success).toBe(false);
    expect(methods['gallery.list'].params.safeParse({ seed: '-1' }).success).toBe(false);
  });
});
