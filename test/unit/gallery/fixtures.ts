// Small real images with recipes for the gallery tests.
import { encodePng, type PngText } from '../../../main/services/images/png.js';
import { recipeChunks, type ImageRecipe } from '../../../main/services/images/recipe-chunks.js';
import { galleryRecipeOf } from '../../../main/services/gallery/image-sink.gallery.js';

export function pixels(width: number, height: number, salt = 0) {
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 31 + salt * 17) & 0xff;
  return { width, height, rgb };
}

export function dimbaRecipe(over: Partial<ImageRecipe> = {}): ImageRecipe {
  return {
    format: 'dimba-recipe',
    version: 1,
    prompt: 'a red fox in snow',
    negativePrompt: 'blurry',
    seed: '18446744073709551615',
    steps: 20,
    guidance: 4.5,
    sampler: 'dpm++2m',
    width: 16,
    height: 16,
    model: { id: 'dimba-l-512', name: 'Dimba-L 512px', manifestHash: 'fnv1a64:0123456789abcdef' },
    engine: { version: '0.1.0', backend: 'cpu' },
    ...over,
  };
}

/** The gallery row's recipe, mapped as the job queue's sink maps it. */
export const galleryRecipe = galleryRecipeOf;

/** A generated PNG (16x16 by default) carrying both recipe chunks; `salt` makes the bytes unique. */
export function generatedPng(r: ImageRecipe = dimbaRecipe(), salt = 0): Buffer {
  return encodePng(pixels(r.width, r.height, salt), recipeChunks(r));
}

export function pngWithTexts(texts: PngText[], salt = 0): Buffer {
  return encodePng(pixels(8, 8, salt), texts);
}
