// Recall and remix: a stored recipe turned back into the generate form's fields, and into jobs.
import { randomBytes } from 'node:crypto';
import type { FormRecipe, GalleryImage, RemixRequest } from '../../api/gallery.js';
import { jobRecipeSchema, type JobRecipe } from '../../api/jobs.js';
import { GalleryError } from './records.js';

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

/**
 * A form recipe as a job for the queue, run with `model` (what the jobs API takes). Fields the
 * queue would refuse (a sampler it lacks, a size off its grid) are left to the model's
 * defaults; a recipe the queue still refuses (an empty prompt) is an INVALID_INPUT naming why.
 */
export function jobRecipeOf(form: FormRecipe, model: string): JobRecipe {
  const sampler = jobRecipeSchema.shape.sampler.unwrap().options.find((s) => s === form.sampler);
  const onGrid = (n: number | undefined) => n !== undefined && n >= 8 && n <= 4096 && n % 8 === 0;
  const parsed = jobRecipeSchema.safeParse({
    prompt: form.prompt.trim(),
    negativePrompt: form.negativePrompt,
    model,
    ...(form.seed !== undefined ? { seed: form.seed } : {}),
    ...(form.steps !== undefined && form.steps <= 1000 ? { steps: form.steps } : {}),
    ...(form.guidance !== undefined && form.guidance >= 0 && form.guidance <= 100 ? { guidance: form.guidance } : {}),
    ...(sampler ? { sampler } : {}),
    ...(onGrid(form.width) && onGrid(form.height) ? { width: form.width, height: form.height } : {}),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new GalleryError('INVALID_INPUT', `cannot queue this recipe: ${issue?.path.join('.') || 'recipe'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}
