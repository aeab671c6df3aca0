// @vitest-environment happy-dom
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import type { GalleryRecipe } from '../../../main/api/index.js';
import { SAMPLERS, useGenerateFormStore } from '../../../renderer/stores/generateForm';

beforeEach(() => {
  localStorage.clear();
  setActivePinia(createPinia());
});

describe('generate form store', () => {
  it('offers the samplers of the job contract', () => {
    expect([...SAMPLERS]).toEqual(['dpm++2m', 'ddim', 'euler']);
  });

  it('fills the fields from a recall, switching to the recalled seed', () => {
    const form = useGenerateFormStore();
    form.count = 3;
    form.applyRecipe({ prompt: 'a red square', negativePrompt: 'blur', modelId: 'dimba-builtin-32', seed: '18446744073709551615', steps: 12, guidance: 3, sampler: 'ddim', width: 64, height: 32 });
    expect(form.prompt).toBe('a red square');
    expect(form.negativePrompt).toBe('blur');
    expect(form.modelId).toBe('dimba-builtin-32');
    expect(form.seedMode).toBe('fixed');
    expect(form.seed).toBe('18446744073709551615');
    expect([form.steps, form.guidance, form.sampler, form.width, form.height]).toEqual([12, 3, 'ddim', 64, 32]);
    expect(form.count).toBe(3);
  });

  it('keeps fields a recipe does not know, and ignores a sampler the engine lacks', () => {
    const form = useGenerateFormStore();
    form.steps = 7;
    form.applyRecipe({ prompt: 'imported', negativePrompt: '', sampler: 'k_lms' });
    expect(form.prompt).toBe('imported');
    expect(form.steps).toBe(7);
    expect(form.sampler).toBe('dpm++2m');
    expect(form.seedMode).toBe('random');
  });

  it("takes an image's stored recipe (nulls where unknown)", () => {
    const form = useGenerateFormStore();
    const recipe: GalleryRecipe = {
      prompt: 'blue circle',
      negativePrompt: '',
      seed: '42',
      steps: null,
      guidance: 5.5,
      sampler: 'euler',
      width: 32,
      height: 32,
      model: { id: 'm1', name: 'M1', hash: 'abc' },
      adapters: [],
      engineVersion: null,
      backend: null,
    };
    form.applyRecipe(recipe);
    expect([form.prompt, form.seed, form.seedMode, form.steps, form.guidance, form.sampler, form.modelId]).toEqual(['blue circle', '42', 'fixed', 20, 5.5, 'euler', 'm1']);
  });

  it('builds a job per seed mode', () => {
    const form = useGenerateFormStore();
    form.prompt = '  a cat  ';
    expect(form.request('')).toEqual({ ok: false, reason: 'Choose a model first.' });
    const random = form.request('/m.json');
    expect(random.ok && random.recipe).toMatchObject({ prompt: 'a cat', model: '/m.json', steps: 20, sampler: 'dpm++2m', width: 32, height: 32 });
    expect(random.ok && random.recipe.seed).toBeUndefined();

    form.seedMode = 'fixed';
    expect(form.request('/m.json').ok).toBe(false);
    form.seed = '99';
    const fixed = form.request('/m.json');
    expect(fixed.ok && fixed.recipe.seed).toBe('99');

    form.seedMode = 'reuse-last';
    expect(form.request('/m.json')).toEqual({ ok: false, reason: 'No earlier seed to reuse yet.' });
    form.lastSeed = '1234';
    const reused = form.request('/m.json');
    expect(reused.ok && reused.recipe.seed).toBe('1234');
  });

  it('refuses what the job contract refuses, naming the field', () => {
    const form = useGenerateFormStore();
    form.prompt = 'x';
    form.width = 30;
    const bad = form.request('/m.json');
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.reason).toMatch(/^width:/);
    form.width = 32;
    form.count = 65;
    expect(form.request('/m.json').ok).toBe(false);
    form.count = 2;
    form.seedMode = 'fixed';
    form.seed = '18446744073709551616';
    expect(form.request('/m.json').ok).toBe(false);
  });

  it('keeps a newest-first prompt history without duplicates, across a reload', () => {
    const form = useGenerateFormStore();
    form.remember({ prompt: 'one', negativePrompt: '' });
    form.remember({ prompt: 'two', negativePrompt: 'n' });
    form.remember({ prompt: 'one', negativePrompt: '' });
    form.remember({ prompt: '   ', negativePrompt: '' });
    expect(form.history.map((e) => e.prompt)).toEqual(['one', 'two']);
    setActivePinia(createPinia());
    expect(useGenerateFormStore().history).toEqual([
      { prompt: 'one', negativePrompt: '' },
      { prompt: 'two', negativePrompt: 'n' },
    ]);
  });

  it('survives a corrupt stored history', () => {
    localStorage.setItem('dimba.promptHistory', '{not json');
    expect(useGenerateFormStore().history).toEqual([]);
  });
});
