// The Generate form's fields, kept in a store so that the gallery (recall, remix) and the
// Generate view edit one form. Holds no API client: it is plain state and rules; the view
// submits what `request()` builds.
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import { jobRecipeSchema, type FormRecipe, type GalleryRecipe, type JobRecipe } from '@api';

/** The samplers the engine has (the job contract's list). */
export const SAMPLERS = jobRecipeSchema.shape.sampler.unwrap().options;
export type Sampler = (typeof SAMPLERS)[number];

export const SEED_MODES = ['random', 'fixed', 'reuse-last'] as const;
export type SeedMode = (typeof SEED_MODES)[number];

export const MAX_COUNT = 64;
const HISTORY_KEY = 'dimba.promptHistory';
const HISTORY_LIMIT = 50;

export interface PromptHistoryEntry {
  prompt: string;
  negativePrompt: string;
}

/** What `request()` gives: a job to enqueue, or why the form cannot make one yet. */
export type FormRequest = { ok: true; recipe: JobRecipe; count: number } | { ok: false; reason: string };

function readHistory(): PromptHistoryEntry[] {
  try {
    const raw: unknown = JSON.parse(globalThis.localStorage?.getItem(HISTORY_KEY) ?? '[]');
    if (!Array.isArray(raw)) return [];
    return raw
      .filter((e): e is PromptHistoryEntry => typeof e?.prompt === 'string' && typeof e?.negativePrompt === 'string')
      .slice(0, HISTORY_LIMIT);
  } catch {
    // A corrupt entry (edited by hand, another version) costs the history, not the form.
    return [];
  }
}

function isGalleryRecipe(recipe: FormRecipe | GalleryRecipe): recipe is GalleryRecipe {
  return 'adapters' in recipe;
}

/** A gallery image's recipe in the form's terms (absent where the image does not know). */
export function formRecipeOf(recipe: FormRecipe | GalleryRecipe): FormRecipe {
  if (!isGalleryRecipe(recipe)) return recipe;
  const out: FormRecipe = { prompt: recipe.prompt, negativePrompt: recipe.negativePrompt };
  if (recipe.model) out.modelId = recipe.model.id;
  if (recipe.seed !== null) out.seed = recipe.seed;
  if (recipe.steps !== null) out.steps = recipe.steps;
  if (recipe.guidance !== null) out.guidance = recipe.guidance;
  if (recipe.sampler !== null) out.sampler = recipe.sampler;
  if (recipe.width !== null) out.width = recipe.width;
  if (recipe.height !== null) out.height = recipe.height;
  return out;
}

export const useGenerateFormStore = defineStore('generateForm', () => {
  const prompt = ref('');
  const negativePrompt = ref('');
  const seedMode = ref<SeedMode>('random');
  /** The fixed seed, a decimal string (seeds reach 2^64). */
  const seed = ref('');
  /** The seed the last started job ran with, for `reuse-last`. */
  const lastSeed = ref<string | null>(null);
  const steps = ref(20);
  const guidance = ref(4.5);
  const sampler = ref<Sampler>('dpm++2m');
  const width = ref(32);
  const height = ref(32);
  /** The aspect ratio preset the size came from ("1:1"), kept across models; null: typed or recalled. */
  const sizePreset = ref<string | null>('1:1');
  const count = ref(1);
  /** The registered model's id ('' until models are listed and one is picked). */
  const modelId = ref('');
  /** True until the user or a recall picks a model: the form then uses the default, whichever it is. */
  const modelFollowsDefault = ref(true);
  /** A pipeline manifest file to run instead of a registered model (the view's manifest choice). */
  const manifestPath = ref('');
  /** A model variant made by tuning ('' none) and the strength it is applied at (0..2). */
  const adapterId = ref('');
  const adapterStrength = ref(1);
  const history = ref<PromptHistoryEntry[]>(readHistory());
  let defaultsApplied = false;

  /** The seed the next job will use; undefined lets the engine draw one. */
  const effectiveSeed = computed<string | undefined>(() => {
    if (seedMode.value === 'fixed') return seed.value.trim() || undefined;
    if (seedMode.value === 'reuse-last') return lastSeed.value ?? undefined;
    return undefined;
  });

  /**
   * Fills the form from a recall or remix (FormRecipe) or an image's stored recipe
   * (GalleryRecipe). Fields the recipe does not know keep their value; a known seed becomes
   * a fixed seed, so the same image comes out again.
   */
  function applyRecipe(recipe: FormRecipe | GalleryRecipe): void {
    const r = formRecipeOf(recipe);
    // A recalled recipe must not be overwritten by the settings' defaults later.
    defaultsApplied = true;
    prompt.value = r.prompt;
    negativePrompt.value = r.negativePrompt;
    if (r.modelId !== undefined) {
      modelId.value = r.modelId;
      modelFollowsDefault.value = false;
    }
    if (r.seed !== undefined) {
      seedMode.value = 'fixed';
      seed.value = r.seed;
    }
    if (r.steps !== undefined) steps.value = r.steps;
    if (r.guidance !== undefined) guidance.value = r.guidance;
    if (r.sampler !== undefined && (SAMPLERS as readonly string[]).includes(r.sampler)) sampler.value = r.sampler as Sampler;
    if (r.width !== undefined) width.value = r.width;
    if (r.height !== undefined) height.value = r.height;
    if (r.width !== undefined || r.height !== undefined) sizePreset.value = null;
    // An image made with a variant brings it back, at its strength.
    if (isGalleryRecipe(recipe)) {
      adapterId.value = recipe.adapters[0]?.id ?? '';
      adapterStrength.value = recipe.adapters[0]?.weight ?? 1;
    }
  }

  /** The settings' starting steps and guidance, taken once per session (later edits win). */
  function applyDefaults(defaults: { steps: number; guidance: number }): void {
    if (defaultsApplied) return;
    defaultsApplied = true;
    steps.value = defaults.steps;
    guidance.value = defaults.guidance;
  }

  /** Puts a prompt at the top of the history (once), newest first, and keeps it across reloads. */
  function remember(entry: PromptHistoryEntry): void {
    if (entry.prompt.trim() === '') return;
    const rest = history.value.filter((e) => e.prompt !== entry.prompt || e.negativePrompt !== entry.negativePrompt);
    history.value = [entry, ...rest].slice(0, HISTORY_LIMIT);
    try {
      globalThis.localStorage?.setItem(HISTORY_KEY, JSON.stringify(history.value));
    } catch {
      // Storage full or refused: the history lasts for this session only.
    }
  }

  function clearHistory(): void {
    history.value = [];
    globalThis.localStorage?.removeItem(HISTORY_KEY);
  }

  /**
   * The job the form describes, checked against the job contract, with `model` the value the
   * jobs API takes for the chosen model (the caller resolves the id).
   */
  function request(model: string): FormRequest {
    if (prompt.value.trim() === '') return { ok: false, reason: 'Write a prompt first.' };
    if (model === '') return { ok: false, reason: 'Choose a model first.' };
    if (seedMode.value === 'fixed' && seed.value.trim() === '') return { ok: false, reason: 'Enter a seed, or choose a random one.' };
    if (seedMode.value === 'reuse-last' && lastSeed.value === null) return { ok: false, reason: 'No earlier seed to reuse yet.' };
    if (!Number.isInteger(count.value) || count.value < 1 || count.value > MAX_COUNT) return { ok: false, reason: `Images: 1 to ${MAX_COUNT}.` };
    const parsed = jobRecipeSchema.safeParse({
      prompt: prompt.value.trim(),
      negativePrompt: negativePrompt.value,
      model,
      seed: effectiveSeed.value,
      steps: steps.value,
      guidance: guidance.value,
      sampler: sampler.value,
      width: width.value,
      height: height.value,
      ...(adapterId.value ? { adapter: { id: adapterId.value, strength: adapterStrength.value } } : {}),
    });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return { ok: false, reason: `${issue?.path.join('.') || 'recipe'}: ${issue?.message ?? 'invalid'}` };
    }
    return { ok: true, recipe: parsed.data, count: count.value };
  }

  return {
    prompt,
    negativePrompt,
    seedMode,
    seed,
    lastSeed,
    steps,
    guidance,
    sampler,
    width,
    height,
    sizePreset,
    count,
    modelId,
    modelFollowsDefault,
    manifestPath,
    adapterId,
    adapterStrength,
    history,
    effectiveSeed,
    applyRecipe,
    applyDefaults,
    remember,
    clearHistory,
    request,
  };
});
