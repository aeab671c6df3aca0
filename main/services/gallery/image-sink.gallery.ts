// The job queue's image sink, backed by the gallery: the engine's pixels become a PNG with both
// recipe chunks, saved atomically with its row.
import type { GalleryRecipe } from '../../api/gallery.js';
import { encodePng } from '../images/png.js';
import { recipeChunks, type ImageRecipe } from '../images/recipe-chunks.js';
import type { ImageSink } from '../jobs/image-sink.js';
import type { GalleryService } from './gallery.js';

export function galleryRecipeOf(r: ImageRecipe): GalleryRecipe {
  return {
    prompt: r.prompt,
    negativePrompt: r.negativePrompt,
    seed: String(r.seed),
    steps: r.steps,
    guidance: r.guidance,
    sampler: r.sampler,
    width: r.width,
    height: r.height,
    model: { id: r.model.id, name: r.model.name, hash: r.model.manifestHash },
    adapters: r.adapters ?? [],
    engineVersion: r.engine.version,
    backend: r.engine.backend,
  };
}

export function createGalleryImageSink(gallery: () => GalleryService): ImageSink {
  return {
    async save(image) {
      const png = encodePng({ width: image.width, height: image.height, rgb: image.rgb }, recipeChunks(image.recipe));
      const saved = await gallery().saveGenerated({ png, recipe: galleryRecipeOf(image.recipe), durationMs: image.durationMs ?? null });
      return saved.uid;
    },
  };
}
