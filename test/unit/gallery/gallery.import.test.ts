import fs from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import type { GalleryService } from '../../../main/services/gallery/gallery.js';
import { openGallery } from '../../../main/services/gallery/gallery.library.js';
import { recipeFromA1111, recipeFromComfy } from '../../../main/services/gallery/metadata.js';
import { a1111Parameters } from '../../../main/services/images/recipe-chunks.js';
import { useTempFolders } from '../support/temp.js';
import { dimbaRecipe, generatedPng, pngWithTexts } from './fixtures.js';

const tempFolder = useTempFolders();
const open: GalleryService[] = [];
afterEach(() => {
  for (const g of open.splice(0)) g.close();
});
async function gallery(): Promise<GalleryService> {
  const g = await openGallery({ folder: tempFolder() });
  open.push(g);
  return g;
}
function imageFiles(g: GalleryService): string[] {
  const root = path.join(g.folder, 'images');
  return fs.existsSync(root) ? fs.readdirSync(root, { recursive: true }).map(String).filter((f) => /\.\w+$/.test(f)) : [];
}

const comfyGraph = {
  '3': { class_type: 'KSampler', inputs: { seed: 156680208700286, steps: 20, cfg: 8, sampler_name: 'euler', model: ['4', 0], positive: ['6', 0], negative: ['7', 0], latent_image: ['5', 0] } },
  '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'v1-5-pruned-emaonly.safetensors' } },
  '5': { class_type: 'EmptyLatentImage', inputs: { width: 512, height: 768, batch_size: 1 } },
  '6': { class_type: 'CLIPTextEncode', inputs: { text: 'beautiful scenery nature glass bottle', clip: ['4', 1] } },
  '7': { class_type: 'CLIPTextEncode', inputs: { text: 'text, watermark', clip: ['4', 1] } },
};

describe('gallery import: recipes from metadata', () => {
  it('reads our dimba chunk exactly', async () => {
    const g = await gallery();
    const r = await g.importImage(generatedPng(dimbaRecipe({ prompt: 'ours' })));
    expect(r.recipeFrom).toBe('dimba');
    expect(r.image.recipe).toMatchObject({ prompt: 'ours', seed: '18446744073709551615', steps: 20, sampler: 'dpm++2m' });
    expect(r.image.source).toBe('imported');
    expect(r.warnings).toEqual([]);
  });

  it("reads AUTOMATIC1111's parameters, quoted values and a multi-line negative prompt included", () => {
    const text = 'a castle, "on a hill"\nsecond line\nNegative prompt: ugly,\nbad hands\nSteps: 30, Sampler: DPM++ 2M, CFG scale: 7.5, Seed: 1234, Size: 640x512, Model hash: abc123, Model: "sd, xl", Version: v1.10';
    expect(recipeFromA1111(text)).toMatchObject({
      prompt: 'a castle, "on a hill"\nsecond line',
      negativePrompt: 'ugly,\nbad hands',
      steps: 30,
      sampler: 'dpm++2m',
      guidance: 7.5,
      seed: '1234',
      width: 640,
      height: 512,
      model: { id: 'sd, xl', name: 'sd, xl', hash: 'abc123' },
    });
    // What our own writer produces reads back.
    const ours = dimbaRecipe({ prompt: 'fox: red, quick', seed: '5' });
    expect(recipeFromA1111(a1111Parameters(ours))).toMatchObject({ prompt: 'fox: red, quick', seed: '5', steps: 20, width: 16 });
    expect(recipeFromA1111('just a caption')).toBeUndefined();
  });

  it("reads ComfyUI's prompt graph by following the sampler's links", async () => {
    expect(recipeFromComfy(JSON.stringify(comfyGraph))).toMatchObject({
      prompt: 'beautiful scenery nature glass bottle',
      negativePrompt: 'text, watermark',
      seed: '156680208700286',
      steps: 20,
      guidance: 8,
      sampler: 'euler',
      width: 512,
      height: 768,
      model: { id: 'v1-5-pruned-emaonly.safetensors' },
    });
    const g = await gallery();
    const r = await g.importImage(pngWithTexts([{ keyword: 'prompt', text: JSON.stringify(comfyGraph) }]));
    expect(r.recipeFrom).toBe('comfyui');
    expect(g.list({ text: 'scenery' }).items).toHaveLength(1);
    // Links that loop or point nowhere give empty fields, not a hang or a throw.
    const loop = { '1': { class_type: 'KSampler', inputs: { positive: ['1', 0], model: ['1', 0], latent_image: ['9', 0] } } };
    expect(recipeFromComfy(JSON.stringify(loop))).toMatchObject({ prompt: '', model: null });
  });

  it('a plain image (JPEG without metadata) imports with its size and an empty recipe', async () => {
    const g = await gallery();
    const jpeg = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#336699' } }).jpeg().toBuffer();
    const r = await g.importImage(jpeg);
    expect(r.recipeFrom).toBe('none');
    expect(r.image).toMatchObject({ width: 40, height: 30, hasRecipe: false });
    expect(r.image.file).toMatch(/\.jpg$/);
    expect(g.recall(r.image.uid)).toEqual({ prompt: '', negativePrompt: '', width: 40, height: 30 });
    expect((await g.importImage(jpeg)).duplicate).toBe(true);
    expect(imageFiles(g)).toHaveLength(1);
  });
});

describe('gallery import: bad input gives clear results and loses nothing', () => {
  it('a hostile dimba chunk (not JSON, wrong types) falls back to the parameters chunk with a warning', async () => {
    const g = await gallery();
    for (const bad of ['{"format":"dimba-recipe","prompt":', '{"format":"dimba-recipe","prompt":{"$gt":1},"seed":-1}', '[]', 'null']) {
      const png = pngWithTexts([
        { keyword: 'dimba', text: bad, international: true },
        { keyword: 'parameters', text: 'fallback prompt\nSteps: 12, Seed: 3' },
      ], bad.length);
      const r = await g.importImage(png);
      expect(r.recipeFrom).toBe('a1111');
      expect(r.image.recipe.prompt).toBe('fallback prompt');
      expect(r.warnings.join(' ')).toMatch(/dimba recipe chunk is not valid/);
    }
  });

  it('a PNG whose text chunk is cut short (bad CRC) is refused whole when its pixels are unreadable too, and stores nothing', async () => {
    const g = await gallery();
    const png = generatedPng(dimbaRecipe(), 1);
    // Cut the file inside the dimba chunk: no IDAT, no IEND.
    const cut = png.subarray(0, 60);
    await expect(g.importImage(cut)).rejects.toMatchObject({ code: 'NOT_AN_IMAGE' });
    expect(imageFiles(g)).toEqual([]);
    expect(g.list().items).toEqual([]);
  });

  it('a text chunk with a broken CRC but intact pixels imports as a plain image with a warning', async () => {
    const g = await gallery();
    const png = Buffer.from(generatedPng(dimbaRecipe(), 2));
    // Flip a byte inside the first text chunk's data (right after IHDR at byte 33).
    png.writeUInt8(png.readUInt8(44) ^ 0xff, 44);
    const r = await g.importImage(png);
    expect(r.recipeFrom).toBe('none');
    expect(r.warnings.join(' ')).toMatch(/PNG metadata unreadable.*CRC/);
    expect(fs.existsSync(g.filePath(r.image.uid))).toBe(true);
  });

  it('a zTXt decompression bomb is ignored with a warning, not inflated', async () => {
    const g = await gallery();
    const bomb = deflateSync(Buffer.alloc(64 * 1024 * 1024, 0x41));
    const data = Buffer.concat([Buffer.from('parameters\0\0', 'latin1'), bomb]);
    const png = pngWithTexts([]);
    // Insert a raw zTXt chunk after IHDR.
    const { crc32 } = await import('../../../main/services/images/png.js');
    const chunk = Buffer.alloc(12 + data.length);
    chunk.writeUInt32BE(data.length, 0);
    chunk.write('zTXt', 4, 'latin1');
    data.copy(chunk, 8);
    chunk.writeUInt32BE(crc32(chunk.subarray(4, 8 + data.length)), 8 + data.length);
    const hostile = Buffer.concat([png.subarray(0, 33), chunk, png.subarray(33)]);
    const r = await g.importImage(hostile);
    expect(r.recipeFrom).toBe('none');
    expect(r.warnings.join(' ')).toMatch(/zTXt chunk "parameters" unreadable/);
  });

  it('a non-image file is NOT_AN_IMAGE and leaves the library as it was', async () => {
    const g = await gallery();
    await g.importImage(generatedPng(dimbaRecipe(), 3));
    for (const bytes of [Buffer.from('hello, I am text'), Buffer.alloc(0), Buffer.from('%PDF-1.7\n'), Buffer.from([0x89, 0x50, 0x4e, 0x47])]) {
      await expect(g.importImage(bytes)).rejects.toMatchObject({ code: 'NOT_AN_IMAGE' });
    }
    expect(g.list().items).toHaveLength(1);
    expect(imageFiles(g)).toHaveLength(1);
    expect(fs.readdirSync(path.join(g.folder, 'tmp'))).toEqual([]);
  });
});
