import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  PngFormatError,
  crc32,
  decodePngRgb,
  encodePng,
  readPngChunks,
  readPngText,
} from '../../../main/services/images/png.js';
import { a1111Parameters, recipeChunks, recipeFromText, type ImageRecipe } from '../../../main/services/images/recipe-chunks.js';

function gradient(width: number, height: number) {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      rgb[i] = (x * 37) & 0xff;
      rgb[i + 1] = (y * 91) & 0xff;
      rgb[i + 2] = (x * y + 7) & 0xff;
    }
  }
  return { width, height, rgb };
}

const recipe: ImageRecipe = {
  format: 'dimba-recipe',
  version: 1,
  prompt: 'a red fox, in snow: watercolour',
  negativePrompt: 'blurry',
  seed: 1,
  steps: 20,
  guidance: 4.5,
  sampler: 'dpm++2m',
  width: 512,
  height: 512,
  model: { id: 'dimba-l-512', name: 'Dimba-L 512px', manifestHash: 'fnv1a64:0123456789abcdef' },
  engine: { version: '0.1.0', backend: 'cpu' },
};

describe('png', () => {
  it('crc32 is the PNG/zlib CRC (check value of "123456789")', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(0))).toBe(0);
  });

  it('round-trips pixels and keeps the text chunks right after IHDR', () => {
    const image = gradient(13, 7);
    const png = encodePng(image, recipeChunks(recipe));
    const types = readPngChunks(png).map((c) => c.type);
    expect(types).toEqual(['IHDR', 'tEXt', 'iTXt', 'IDAT', 'IEND']);
    const back = decodePngRgb(png);
    expect(back.width).toBe(13);
    expect(back.height).toBe(7);
    expect(Buffer.from(back.rgb).equals(Buffer.from(image.rgb))).toBe(true);
    const texts = readPngText(png);
    expect(texts.get('parameters')).toBe(a1111Parameters(recipe));
    expect(recipeFromText(texts)).toEqual(recipe);
  });

  it('writes non-Latin-1 text as UTF-8 iTXt', () => {
    const png = encodePng(gradient(2, 2), [{ keyword: 'parameters', text: '猫 in the rain' }]);
    expect(readPngChunks(png).map((c) => c.type)).toContain('iTXt');
    expect(readPngText(png).get('parameters')).toBe('猫 in the rain');
  });

  it('decodes every row filter (a hand-built Sub/Up/Average/Paeth image)', () => {
    const { width, height, rgb } = gradient(5, 4);
    const stride = width * 3;
    const raw = Buffer.alloc((stride + 1) * height);
    for (let y = 0; y < height; y++) {
      const filter = y + 1; // 1 Sub, 2 Up, 3 Average, 4 Paeth
      raw[y * (stride + 1)] = filter;
      for (let x = 0; x < stride; x++) {
        const a = x >= 3 ? rgb[y * stride + x - 3]! : 0;
        const b = y > 0 ? rgb[(y - 1) * stride + x]! : 0;
        const c = x >= 3 && y > 0 ? rgb[(y - 1) * stride + x - 3]! : 0;
        const p = a + b - c;
        const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        const paeth = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
        const pred = [0, a, b, (a + b) >> 1, paeth][filter]!;
        raw[y * (stride + 1) + 1 + x] = (rgb[y * stride + x]! - pred) & 0xff;
      }
    }
    // Swap the encoder's IDAT for the filtered one, fixing its CRC through a re-encode of chunks.
    const base = encodePng({ width, height, rgb: new Uint8Array(stride * height) });
    const chunks = readPngChunks(base).map((c) => (c.type === 'IDAT' ? { type: 'IDAT', data: deflateSync(raw) } : c));
    const parts: Buffer[] = [base.subarray(0, 8)];
    for (const c of chunks) {
      const out = Buffer.alloc(12 + c.data.length);
      out.writeUInt32BE(c.data.length, 0);
      out.write(c.type, 4, 'latin1');
      c.data.copy(out, 8);
      out.writeUInt32BE(crc32(out.subarray(4, 8 + c.data.length)), 8 + c.data.length);
      parts.push(out);
    }
    expect(Buffer.from(decodePngRgb(Buffer.concat(parts)).rgb).equals(Buffer.from(rgb))).toBe(true);
  });

  it('refuses malformed files and inputs', () => {
    const png = encodePng(gradient(3, 3), [{ keyword: 'k', text: 'v' }]);
    const corrupt = Buffer.from(png);
    corrupt[40] = corrupt[40]! ^ 0xff; // inside the tEXt chunk
    expect(() => readPngChunks(corrupt)).toThrow(PngFormatError);
    expect(() => readPngChunks(png.subarray(0, 30))).toThrow(PngFormatError);
    expect(() => readPngChunks(Buffer.from('GIF89a'))).toThrow(PngFormatError);
    expect(() => encodePng({ width: 2, height: 2, rgb: new Uint8Array(5) })).toThrow(PngFormatError);
    expect(() => encodePng(gradient(1, 1), [{ keyword: '', text: 'x' }])).toThrow(PngFormatError);
  });
});

describe('recipe chunks', () => {
  it('writes the A1111 layout, quoting values with commas or colons', () => {
    const text = a1111Parameters({ ...recipe, model: { ...recipe.model, name: 'My model, v2' } });
    expect(text.split('\n')).toEqual([
      'a red fox, in snow: watercolour',
      'Negative prompt: blurry',
      'Steps: 20, Sampler: DPM++ 2M, CFG scale: 4.5, Seed: 1, Size: 512x512, Model hash: 0123456789, Model: "My model, v2", Version: dimba 0.1.0',
    ]);
  });

  it('omits the negative prompt line when there is none', () => {
    expect(a1111Parameters({ ...recipe, negativePrompt: '' }).split('\n')).toHaveLength(2);
  });

  it('ignores chunks that are not our recipe', () => {
    expect(recipeFromText(new Map([['dimba', 'not json']]))).toBeUndefined();
    expect(recipeFromText(new Map([['dimba', '{"format":"other"}']]))).toBeUndefined();
    expect(recipeFromText(new Map())).toBeUndefined();
  });
});
