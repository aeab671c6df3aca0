import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { encodePng } from '../../../main/services/images/png.js';
import { recipeChunks } from '../../../main/services/images/recipe-chunks.js';
import { ApiError, methods, UPLOAD_PART_BYTES, type Job, type JobRecipe } from '../../../main/api/index.js';
import type { JobsService } from '../../../main/services/jobs/jobs.service.js';
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
    expect(remix.jobs).toEqual([]);

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

/** The jobs service as remix uses it: enqueue records, list answers with the jobs given. */
function fakeJobs(made: Job[] = []) {
  const enqueued: { recipe: JobRecipe; count: number }[] = [];
  const service = {
    enqueue(recipe: JobRecipe, count: number): Job {
      enqueued.push({ recipe, count });
      return { ...made[0]!, id: `job-${enqueued.length}`, status: 'queued', recipe, count, imageIds: [] };
    },
    list: () => ({ jobs: made, paused: false }),
  } as unknown as JobsService;
  return { service, enqueued };
}

function doneJob(uid: string, model: string): Job {
  return {
    id: 'maker', status: 'done', recipe: { prompt: 'p', negativePrompt: '', model }, count: 1, position: 1, attempts: 1,
    createdAt: '2026-01-01T00:00:00.000Z', startedAt: null, finishedAt: null, error: null, imageIds: [uid],
  };
}

describe('gallery API: remix into the queue', () => {
  it('queues one job per recipe with the model of the job that made the image, or the one given', async () => {
    const g = await openGallery({ folder: tempFolder() });
    open.push(g);
    const r = dimbaRecipe({ width: 64, height: 48 });
    const image = await g.saveGenerated({ png: generatedPng(r), recipe: galleryRecipe(r), durationMs: 5 });
    const jobs = fakeJobs([doneJob(image.uid, '/models/tiny.json')]);
    const h = galleryHandlers(() => g, () => jobs.service);
    const out = await h['gallery.remix'](methods['gallery.remix'].params.parse({ kind: 'variations', uid: image.uid, count: 3, enqueue: true }));
    expect(methods['gallery.remix'].result.parse(out).jobs).toHaveLength(3);
    expect(jobs.enqueued.map((j) => j.recipe.model)).toEqual(['/models/tiny.json', '/models/tiny.json', '/models/tiny.json']);
    expect(new Set(jobs.enqueued.map((j) => j.recipe.seed)).size).toBe(3);
    expect(jobs.enqueued[0]!.recipe).toMatchObject({ prompt: 'a red fox in snow', negativePrompt: 'blurry', steps: 20, sampler: 'dpm++2m', width: 64, height: 48 });

    await h['gallery.remix'](methods['gallery.remix'].params.parse({ kind: 'edit-prompt', uid: image.uid, prompt: 'a blue fox', enqueue: true, model: '/other.json' }));
    expect(jobs.enqueued[3]!.recipe).toMatchObject({ prompt: 'a blue fox', seed: String(r.seed), model: '/other.json' });
    // Without enqueue nothing is queued.
    await h['gallery.remix'](methods['gallery.remix'].params.parse({ kind: 'new-seed', uid: image.uid }));
    expect(jobs.enqueued).toHaveLength(4);

    // No job made it and no model given: a clear error, nothing queued.
    const orphan = fakeJobs([]);
    const h2 = galleryHandlers(() => g, () => orphan.service);
    await expect(h2['gallery.remix'](methods['gallery.remix'].params.parse({ kind: 'new-seed', uid: image.uid, enqueue: true }))).rejects.toMatchObject({
      code: 'INVALID_PARAMS',
      message: expect.stringMatching(/model/),
    });
    // With a model given the same remix queues; an empty prompt cannot be queued and is refused.
    await expect(
      h2['gallery.remix'](methods['gallery.remix'].params.parse({ kind: 'variations', uid: image.uid, count: 2, enqueue: true, model: '/m.json' })),
    ).resolves.toMatchObject({ jobs: [expect.anything(), expect.anything()] });
    await expect(
      h2['gallery.remix'](methods['gallery.remix'].params.parse({ kind: 'edit-prompt', uid: image.uid, prompt: '  ', enqueue: true, model: '/m.json' })),
    ).rejects.toMatchObject({ code: 'INVALID_PARAMS', message: expect.stringMatching(/prompt/) });
    expect(orphan.enqueued).toHaveLength(2);
  });
});

describe('gallery API: uploads (a dropped file in parts)', () => {
  it('imports the parts as one image; parts out of order, unknown uploads and oversized parts are refused', async () => {
    const g = await openGallery({ folder: tempFolder() });
    open.push(g);
    const h = galleryHandlers(() => g);
    // Noise does not compress: a PNG of more than one part.
    const r = dimbaRecipe({ prompt: 'uploaded owl', width: 512, height: 512 });
    const png = encodePng({ width: 512, height: 512, rgb: new Uint8Array(randomBytes(512 * 512 * 3)) }, recipeChunks(r));
    expect(png.byteLength).toBeGreaterThan(UPLOAD_PART_BYTES);
    const upload = 'ab'.repeat(16);
    let index = 0;
    for (let at = 0; at < png.byteLength; at += UPLOAD_PART_BYTES) {
      const data = png.subarray(at, at + UPLOAD_PART_BYTES).toString('base64');
      const { bytes } = await h['gallery.uploadPart'](methods['gallery.uploadPart'].params.parse({ upload, index, data }));
      expect(bytes).toBe(Math.min(png.byteLength, at + UPLOAD_PART_BYTES));
      index++;
    }
    const result = await h['gallery.importUpload']({ upload });
    expect(methods['gallery.importUpload'].result.parse(result)).toMatchObject({ duplicate: false, recipeFrom: 'dimba', image: { recipe: { prompt: 'uploaded owl' } } });
    expect(g.get(result.image.uid).contentHash).toBe(result.image.contentHash);
    // The upload is gone once imported.
    await expect(h['gallery.importUpload']({ upload })).rejects.toMatchObject({ code: 'INVALID_PARAMS' });

    const other = 'cd'.repeat(16);
    await expect(h['gallery.uploadPart']({ upload: other, index: 1, data: 'AAAA' })).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
    await h['gallery.uploadPart']({ upload: other, index: 0, data: 'AAAA' });
    await expect(h['gallery.uploadPart']({ upload: other, index: 2, data: 'AAAA' })).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
    expect(methods['gallery.uploadPart'].params.safeParse({ upload: other, index: 1, data: 'A'.repeat(UPLOAD_PART_BYTES * 2) }).success).toBe(false);
    expect(methods['gallery.uploadPart'].params.safeParse({ upload: '../x', index: 0, data: '' }).success).toBe(false);
    // Bytes that are not an image: a typed error, nothing stored.
    await expect(h['gallery.importUpload']({ upload: other })).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
    expect(g.list().items.map((i) => i.uid)).toEqual([result.image.uid]);
  });
});
