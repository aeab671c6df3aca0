// Tuning datasets: a folder's images with their sizes, and every kind of bad input named before
// any compute: unreadable files (garbage, a truncated PNG), images smaller than the model, too
// few usable images, an empty source; captions from the recipe, the user's edits and a trigger.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { captionFor, checkDataset, collectDataset } from '../../../main/services/tuning/dataset.js';
import { useTempFolders } from '../support/temp.js';
import { writePng } from './fixtures.js';

const temp = useTempFolders();

describe('tuning dataset', () => {
  it('lists a folder of images in name order and accepts a good set', async () => {
    const dir = temp();
    for (const n of ['b.png', 'a.png', 'c.png', 'd.png']) writePng(dir, n, 40, 48);
    writeFileSync(path.join(dir, 'notes.txt'), 'not an image');
    const entries = await collectDataset({ kind: 'folder', path: dir }, undefined);
    expect(entries.map((e) => e.key)).toEqual(['a.png', 'b.png', 'c.png', 'd.png']);
    const { items, problems } = await checkDataset(entries, 32, 4);
    expect(problems).toEqual([]);
    expect(items.map((i) => [i.width, i.height])).toEqual([[40, 48], [40, 48], [40, 48], [40, 48]]);
  });

  it('names unreadable and too-small images, then too few usable ones', async () => {
    const dir = temp();
    writePng(dir, 'a.png', 40);
    writePng(dir, 'b.png', 40);
    writePng(dir, 'small.png', 16, 40);
    writeFileSync(path.join(dir, 'garbage.png'), 'definitely not a png');
    const good = readFileSync(writePng(dir, 'truncated.png', 64));
    writeFileSync(path.join(dir, 'truncated.png'), good.subarray(0, good.length - 30));
    const { problems } = await checkDataset(await collectDataset({ kind: 'folder', path: dir }, undefined), 32, 4);
    expect(problems.map((p) => [p.code, p.key])).toEqual([
      ['UNREADABLE_IMAGE', 'garbage.png'],
      ['IMAGE_TOO_SMALL', 'small.png'],
      ['UNREADABLE_IMAGE', 'truncated.png'],
      ['TOO_FEW_IMAGES', null],
    ]);
    expect(problems.find((p) => p.code === 'IMAGE_TOO_SMALL')!.message).toMatch(/16x40, smaller than the model's 32x32/);
    expect(problems.at(-1)!.message).toMatch(/2 usable images; a tuning run needs at least 4/);
  });

  it('says so when the source is empty', async () => {
    const { problems } = await checkDataset(await collectDataset({ kind: 'folder', path: temp() }, undefined), 32, 4);
    expect(problems.map((p) => p.code)).toEqual(['EMPTY_SOURCE']);
  });

  it('captions: the user edit over the recipe, the trigger first, nothing doubled', () => {
    const e = { key: 'k', recipeCaption: 'a green star' };
    expect(captionFor(e, {}, '')).toBe('a green star');
    expect(captionFor(e, { k: ' my words ' }, '')).toBe('my words');
    expect(captionFor(e, {}, 'sks style')).toBe('sks style, a green star');
    expect(captionFor({ key: 'x', recipeCaption: '' }, {}, 'sks')).toBe('sks');
  });
});
