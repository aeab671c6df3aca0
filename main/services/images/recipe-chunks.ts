// The recipe an image carries inside its PNG: an A1111-compatible `parameters` text (so other
// tools and sites show prompt, steps, sampler, CFG scale, seed, size and model) and a `dimba`
// chunk with the exact recipe as JSON (what the studio reads back to recall everything).
// The `parameters` layout follows AUTOMATIC1111's create_infotext: the prompt, a
// "Negative prompt: " line when there is one, then "Key: value" pairs joined by ", ", values
// holding ',', ':' or a newline JSON-quoted.
import type { PngText } from './png.js';

export const RECIPE_FORMAT = 'dimba-recipe';
export const RECIPE_KEYWORD = 'dimba';
export const PARAMETERS_KEYWORD = 'parameters';

export interface RecipeModel {
  id: string;
  name: string;
  manifestHash: string;
  tokenizerHash?: string;
  t5WeightsId?: string;
  weights?: string;
}

/** One image's full recipe: running it again reproduces the image bit for bit on the same backend. */
export interface ImageRecipe {
  format: typeof RECIPE_FORMAT;
  version: 1;
  prompt: string;
  negativePrompt: string;
  /** This image's own seed (a count of N made seeds seed..seed+N-1); a decimal string past 2^53. */
  seed: number | string;
  steps: number;
  guidance: number;
  sampler: string;
  width: number;
  height: number;
  model: RecipeModel;
  /** Model variants applied (tuning adapters): id, file hash and strength. */
  adapters?: { id: string; hash: string; weight: number }[];
  engine: { version: string; backend: string };
}

/** What an image was sampled with, every default already applied. */
export type SampledSettings = Pick<
  ImageRecipe,
  'prompt' | 'negativePrompt' | 'steps' | 'guidance' | 'sampler' | 'width' | 'height'
>;

/**
 * The recipe of one made image. `model` may be a richer record (the engine's model info): only
 * the recipe's fields are kept, so nothing else of the engine leaks into files.
 */
export function makeImageRecipe(
  settings: SampledSettings,
  model: RecipeModel,
  seed: bigint,
  engine: ImageRecipe['engine'],
  adapter?: { id: string; hash: string; weight: number },
): ImageRecipe {
  const { prompt, negativePrompt, steps, guidance, sampler, width, height } = settings;
  return {
    format: RECIPE_FORMAT,
    version: 1,
    prompt,
    negativePrompt,
    seed: seed > BigInt(Number.MAX_SAFE_INTEGER) ? seed.toString() : Number(seed),
    steps,
    guidance,
    sampler,
    width,
    height,
    model: {
      id: model.id,
      name: model.name,
      manifestHash: model.manifestHash,
      tokenizerHash: model.tokenizerHash,
      t5WeightsId: model.t5WeightsId,
      weights: model.weights,
    },
    ...(adapter ? { adapters: [{ id: adapter.id, hash: adapter.hash, weight: adapter.weight }] } : {}),
    engine,
  };
}

/** The names A1111 users know for our samplers. */
const A1111_SAMPLER: Record<string, string> = { 'dpm++2m': 'DPM++ 2M', ddim: 'DDIM', euler: 'Euler' };

function quote(value: string): string {
  return /[,:\n]/.test(value) ? JSON.stringify(value) : value;
}

export function a1111Parameters(r: ImageRecipe): string {
  const lines = [r.prompt];
  if (r.negativePrompt) lines.push(`Negative prompt: ${r.negativePrompt}`);
  const pairs: [string, string][] = [
    ['Steps', String(r.steps)],
    ['Sampler', A1111_SAMPLER[r.sampler] ?? r.sampler],
    ['CFG scale', String(r.guidance)],
    ['Seed', String(r.seed)],
    ['Size', `${r.width}x${r.height}`],
    ['Model hash', r.model.manifestHash.replace(/^fnv1a64:/, '').slice(0, 10)],
    ['Model', r.model.name],
    ['Version', `dimba ${r.engine.version}`],
  ];
  lines.push(pairs.map(([k, v]) => `${k}: ${quote(v)}`).join(', '));
  return lines.join('\n');
}

/** The two text chunks to embed: `parameters` (tEXt, or iTXt for non-Latin-1 prompts) and `dimba` (iTXt JSON). */
export function recipeChunks(r: ImageRecipe): PngText[] {
  return [
    { keyword: PARAMETERS_KEYWORD, text: a1111Parameters(r) },
    { keyword: RECIPE_KEYWORD, text: JSON.stringify(r), international: true },
  ];
}

/** The recipe from a PNG's text chunks, or undefined when absent or not ours. */
export function recipeFromText(texts: ReadonlyMap<string, string>): ImageRecipe | undefined {
  const raw = texts.get(RECIPE_KEYWORD);
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Partial<ImageRecipe>;
  if (v.format !== RECIPE_FORMAT || v.version !== 1 || typeof v.prompt !== 'string') return undefined;
  return value as ImageRecipe;
}
