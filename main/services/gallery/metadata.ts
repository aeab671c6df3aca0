// What an image file says about how it was made. In order of trust: our `dimba` JSON chunk, an
// AUTOMATIC1111 `parameters` text, a ComfyUI `prompt` graph; else it is a plain image. Every
// chunk is untrusted input: size-capped, parsed without throwing, validated; a chunk that cannot
// be read becomes a warning and the image is still kept.
import { inflateSync } from 'node:zlib';
import sharp from 'sharp';
import { galleryRecipeSchema, type GalleryRecipe } from '../../api/gallery.js';
import { readPngChunks } from '../images/png.js';
import { GalleryError } from './records.js';

export type RecipeOrigin = 'dimba' | 'a1111' | 'comfyui' | 'none';

export interface ImageMetadata {
  format: 'png' | 'jpeg' | 'webp';
  width: number;
  height: number;
  recipe: GalleryRecipe;
  recipeFrom: RecipeOrigin;
  warnings: string[];
}

/** Text chunks larger than this are ignored (a hostile zTXt could inflate to gigabytes). */
const MAX_TEXT_BYTES = 1 << 20;
/** Prompts past this are cut: generous for any real prompt, bounded for the database and FTS. */
export const MAX_PROMPT_CHARS = 100_000;

export function emptyRecipe(): GalleryRecipe {
  return {
    prompt: '',
    negativePrompt: '',
    seed: null,
    steps: null,
    guidance: null,
    sampler: null,
    width: null,
    height: null,
    model: null,
    adapters: [],
    engineVersion: null,
    backend: null,
  };
}

/** PNG text chunks, each capped; a broken chunk structure throws PngFormatError. */
export function pngTexts(bytes: Uint8Array, warnings: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const { type, data } of readPngChunks(bytes)) {
    if (type !== 'tEXt' && type !== 'zTXt' && type !== 'iTXt') continue;
    const nul = data.indexOf(0);
    if (nul < 1 || nul > 79) {
      warnings.push(`${type} chunk without a valid keyword ignored`);
      continue;
    }
    const keyword = data.toString('latin1', 0, nul);
    try {
      let text: string;
      if (type === 'tEXt') {
        text = data.toString('latin1', nul + 1);
      } else if (type === 'zTXt') {
        text = inflateSync(data.subarray(nul + 2), { maxOutputLength: MAX_TEXT_BYTES }).toString('latin1');
      } else {
        const compressed = data[nul + 1] === 1;
        const langEnd = data.indexOf(0, nul + 3);
        const transEnd = langEnd < 0 ? -1 : data.indexOf(0, langEnd + 1);
        if (transEnd < 0) throw new Error('malformed iTXt');
        const body = data.subarray(transEnd + 1);
        text = (compressed ? inflateSync(body, { maxOutputLength: MAX_TEXT_BYTES }) : body).toString('utf8');
      }
      if (text.length > MAX_TEXT_BYTES) throw new Error('too large');
      if (!out.has(keyword)) out.set(keyword, text);
    } catch (error) {
      warnings.push(`${type} chunk "${keyword}" unreadable (${error instanceof Error ? error.message : String(error)}); ignored`);
    }
  }
  return out;
}

const str = (v: unknown, max = 512): string | null => (typeof v === 'string' ? v.slice(0, max) : typeof v === 'number' ? String(v) : null);
const int = (v: unknown): number | null => {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 10_000 ? n : null;
};
const num = (v: unknown): number | null => {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : null;
};
const seedOf = (v: unknown): string | null => {
  const s = typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? String(v) : typeof v === 'string' ? v.trim() : '';
  return /^\d{1,20}$/.test(s) && BigInt(s) < 2n ** 64n ? String(BigInt(s)) : null;
};
const record = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/** Our `dimba` chunk (main/services/images/recipe-chunks.ts, format 'dimba-recipe' v1). */
export function recipeFromDimba(text: string): GalleryRecipe | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const v = record(value);
  if (!v || v.format !== 'dimba-recipe' || typeof v.prompt !== 'string') return undefined;
  const model = record(v.model);
  const engine = record(v.engine);
  const adapters = Array.isArray(v.adapters) ? v.adapters : [];
  const candidate: GalleryRecipe = {
    prompt: v.prompt.slice(0, MAX_PROMPT_CHARS),
    negativePrompt: (str(v.negativePrompt, MAX_PROMPT_CHARS) ?? ''),
    seed: seedOf(v.seed),
    steps: int(v.steps),
    guidance: num(v.guidance),
    sampler: str(v.sampler, 128),
    width: int(v.width),
    height: int(v.height),
    model: model && typeof model.id === 'string'
      ? { id: model.id.slice(0, 512), name: str(model.name) ?? model.id.slice(0, 512), hash: str(model.manifestHash ?? model.hash, 256) ?? '' }
      : null,
    adapters: adapters.flatMap((a) => {
      const r = record(a);
      return r && typeof r.id === 'string' ? [{ id: r.id.slice(0, 512), hash: str(r.hash, 256) ?? '', weight: num(r.weight) ?? 1 }] : [];
    }).slice(0, 64),
    engineVersion: str(engine?.version, 128),
    backend: str(engine?.backend, 64),
  };
  const parsed = galleryRecipeSchema.safeParse(candidate);
  return parsed.success ? parsed.data : undefined;
}

const A1111_SAMPLERS: Record<string, string> = { 'DPM++ 2M': 'dpm++2m', DDIM: 'ddim', Euler: 'euler' };

/** AUTOMATIC1111's infotext: prompt lines, "Negative prompt: ..." lines, then one "Key: value, ..." line. */
export function recipeFromA1111(text: string): GalleryRecipe | undefined {
  const lines = text.split('\n');
  const last = lines[lines.length - 1] ?? '';
  if (!/(^|, )Steps: /.test(last)) return undefined;
  const pairs = new Map<string, string>();
  const re = /\s*([\w ().+-]+?):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)/g;
  for (const m of last.matchAll(re)) {
    let value = m[2] ?? '';
    if (value.startsWith('"')) {
      try {
        const parsed: unknown = JSON.parse(value);
        if (typeof parsed === 'string') value = parsed;
      } catch {
        /* keep the raw text */
      }
    }
    if (m[1]) pairs.set(m[1].trim(), value.trim());
  }
  const body = lines.slice(0, -1);
  const negAt = body.findIndex((l) => l.startsWith('Negative prompt:'));
  const prompt = (negAt < 0 ? body : body.slice(0, negAt)).join('\n');
  const negative = negAt < 0 ? '' : body.slice(negAt).join('\n').replace(/^Negative prompt:\s?/, '');
  const size = /^(\d+)x(\d+)$/.exec(pairs.get('Size') ?? '');
  const sampler = pairs.get('Sampler');
  const modelName = pairs.get('Model');
  const modelHash = pairs.get('Model hash');
  return {
    ...emptyRecipe(),
    prompt: prompt.slice(0, MAX_PROMPT_CHARS),
    negativePrompt: negative.slice(0, MAX_PROMPT_CHARS),
    seed: seedOf(pairs.get('Seed')),
    steps: int(pairs.get('Steps')),
    guidance: num(pairs.get('CFG scale')),
    sampler: sampler ? (A1111_SAMPLERS[sampler] ?? sampler.slice(0, 128)) : null,
    width: size ? int(size[1]) : null,
    height: size ? int(size[2]) : null,
    model: modelName || modelHash ? { id: (modelName ?? modelHash ?? '').slice(0, 512), name: (modelName ?? '').slice(0, 512), hash: (modelHash ?? '').slice(0, 256) } : null,
    engineVersion: str(pairs.get('Version'), 128),
  };
}

/** ComfyUI's `prompt` chunk: the API graph {id: {class_type, inputs}}; we follow the first sampler's links. */
export function recipeFromComfy(text: string): GalleryRecipe | undefined {
  let graph: Record<string, unknown> | undefined;
  try {
    graph = record(JSON.parse(text));
  } catch {
    return undefined;
  }
  if (!graph) return undefined;
  const node = (link: unknown): Record<string, unknown> | undefined => {
    const id = Array.isArray(link) ? link[0] : undefined;
    return typeof id === 'string' || typeof id === 'number' ? record(graph?.[String(id)]) : undefined;
  };
  const inputsOf = (n: Record<string, unknown> | undefined) => record(n?.inputs) ?? {};
  // Text may pass through other nodes (e.g. a primitive): follow 'text' links a few hops.
  const textOf = (link: unknown): string => {
    let n = node(link);
    for (let hop = 0; hop < 8 && n; hop++) {
      const t = inputsOf(n).text;
      if (typeof t === 'string') return t;
      n = node(t);
    }
    return '';
  };
  const sampler = Object.values(graph)
    .map(record)
    .find((n) => typeof n?.class_type === 'string' && /^KSampler/.test(n.class_type));
  if (!sampler) return undefined;
  const s = inputsOf(sampler);
  let modelName: string | null = null;
  let m = node(s.model);
  for (let hop = 0; hop < 8 && m; hop++) {
    const ckpt = inputsOf(m).ckpt_name;
    if (typeof ckpt === 'string') {
      modelName = ckpt.slice(0, 512);
      break;
    }
    m = node(inputsOf(m).model);
  }
  const latent = inputsOf(node(s.latent_image));
  return {
    ...emptyRecipe(),
    prompt: textOf(s.positive).slice(0, MAX_PROMPT_CHARS),
    negativePrompt: textOf(s.negative).slice(0, MAX_PROMPT_CHARS),
    seed: seedOf(s.seed ?? s.noise_seed),
    steps: int(s.steps),
    guidance: num(s.cfg),
    sampler: str(s.sampler_name, 128),
    width: int(latent.width),
    height: int(latent.height),
    model: modelName ? { id: modelName, name: modelName, hash: '' } : null,
  };
}

/** Reads format, size and recipe; NOT_AN_IMAGE when the bytes are not a PNG, JPEG or WebP sharp can decode. */
export async function readImageMetadata(bytes: Buffer): Promise<ImageMetadata> {
  let info: Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;
  try {
    info = await sharp(bytes, { limitInputPixels: 16384 * 16384 }).metadata();
  } catch (error) {
    throw new GalleryError('NOT_AN_IMAGE', `not an image the gallery can read (${error instanceof Error ? error.message : String(error)})`);
  }
  const format = info.format === 'png' || info.format === 'jpeg' || info.format === 'webp' ? info.format : undefined;
  if (!format || !info.width || !info.height) {
    throw new GalleryError('NOT_AN_IMAGE', `unsupported image format ${info.format ?? 'unknown'} (PNG, JPEG and WebP are)`);
  }
  // Pixel decoding is what a viewer does: an image whose data is cut short is refused here, not later.
  try {
    await sharp(bytes, { limitInputPixels: 16384 * 16384 }).resize(8, 8, { fit: 'inside' }).raw().toBuffer();
  } catch (error) {
    throw new GalleryError('NOT_AN_IMAGE', `the image data cannot be decoded (${error instanceof Error ? error.message : String(error)})`);
  }
  const warnings: string[] = [];
  let texts = new Map<string, string>();
  if (format === 'png') {
    try {
      texts = pngTexts(bytes, warnings);
    } catch (error) {
      warnings.push(`PNG metadata unreadable (${error instanceof Error ? error.message : String(error)}); imported as a plain image`);
    }
  }
  const base = { format, width: info.width, height: info.height, warnings };
  const dimba = texts.get('dimba');
  if (dimba !== undefined) {
    const recipe = recipeFromDimba(dimba);
    if (recipe) return { ...base, recipe, recipeFrom: 'dimba' };
    warnings.push('the dimba recipe chunk is not valid; ignored');
  }
  const parameters = texts.get('parameters');
  if (parameters !== undefined) {
    const recipe = recipeFromA1111(parameters);
    if (recipe) return { ...base, recipe, recipeFrom: 'a1111' };
    warnings.push('the parameters chunk is not in AUTOMATIC1111 form; ignored');
  }
  const comfy = texts.get('prompt');
  if (comfy !== undefined) {
    const recipe = recipeFromComfy(comfy);
    if (recipe) return { ...base, recipe, recipeFrom: 'comfyui' };
    warnings.push('the ComfyUI prompt chunk has no sampler graph; ignored');
  }
  return { ...base, recipe: emptyRecipe(), recipeFrom: 'none' };
}
