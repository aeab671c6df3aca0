// Recall and remix: a stored recipe turned back into the generate form's fields.
import { randomBytes } from 'node:crypto';
import type { FormRecipe, GalleryImage, RemixRequest } from '../../api/gallery.js';

/** A uniformly random seed in [0, 2^64), as the engine takes it. */
export function randomSeed(): string {
  return randomBytes(8).readBigUInt64BE().toString();
}

export function recallRecipe(image: GalleryImage): FormRecipe {
  const r = image.recipe;
  const form: FormRecipe = { prompt: r.prompt, negativePrompt: r.negativePrompt };
  if (r.model) form.modelId = r.model.id;
  if (r.seed !== null) form.seed = r.seed;
  if (r.steps !== null) form.steps = r.steps;
  if (r.guidance !== null) form.guidance = r.guidance;
  if (r.sampler !== null) form.sampler = r.sampler;
  // An imported plain image still tells the size it was made at.
  form.width = r.width ?? image.width;
  form.height = r.height ?? image.height;
  return form;
}

export function remixRecipes(image: GalleryImage, request: RemixRequest, seed: () => string = randomSeed): FormRecipe[] {
  const base = recallRecipe(image);
  switch (request.kind) {
    case 'edit-prompt':
      return [{ ...base, prompt: request.prompt, negativePrompt: request.negativePrompt ?? base.negativePrompt }];
    case 'new-seed':
      return [{ ...base, seed: freshSeed(base.seed, seed) }];
    case 'variations': {
      const seen = new Set(base.seed === undefined ? [] : [base.seed]);
      const out: FormRecipe[] = [];
      while (out.length < request.count) {
        const s = seed();
        if (seen.has(s)) continue;
        seen.add(s);
        out.push({ ...base, seed: s });
      }
      return out;
    }
  }
}

function freshSeed(old: string | undefined, seed: () => string): string {
  for (;;) {
    const s = seed();
    if (s !== old) return s;
  }
}
