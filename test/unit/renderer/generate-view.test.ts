// @vitest-environment happy-dom
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Job, MethodName, Model, Reply } from '../../../main/api/index.js';
import { createClient } from '../../../renderer/api/client';
import { clientKey } from '../../../renderer/composables/useClient';
import { useGenerateFormStore } from '../../../renderer/stores/generateForm';
import GenerateView from '../../../renderer/views/GenerateView.vue';
import { FakePlatform } from '../support/fake-platform';

function model(id: string, over: Partial<Model> = {}): Model {
  return {
    id,
    name: id.toUpperCase(),
    kind: 'dimba',
    status: 'ready',
    source: { type: 'local', path: `/m/${id}` },
    files: [{ path: `/m/${id}/${id}.manifest.json`, bytes: 10, sha256: null }],
    totalBytes: 10,
    config: { patch_size: 2, in_channels: 4, input_size: 64 },
    validation: null,
    addedAt: '2026-01-01T00:00:00.000Z',
    ...over,
  };
}

function job(id: string, over: Partial<Job> = {}): Job {
  return {
    id,
    status: 'queued',
    recipe: { prompt: id, negativePrompt: '', model: '/m.json' },
    count: 1,
    position: 0,
    attempts: 0,
    createdAt: '2026-01-01T00:00:00.000Z',
    startedAt: null,
    finishedAt: null,
    error: null,
    imageIds: [],
    ...over,
  };
}

class StudioPlatform extends FakePlatform {
  models: Model[] = [];
  jobs: Job[] = [];
  override async call<M extends MethodName>(method: M, params?: unknown): Promise<Reply<M>> {
    if (method === 'models.list') return { ok: true, result: this.models } as Reply<M>;
    if (method === 'jobs.list') return { ok: true, result: { jobs: this.jobs, paused: false } } as Reply<M>;
    if (method === 'jobs.enqueue') {
      const reply = await super.call(method, params);
      if (!reply.ok) return reply;
      const p = params as { recipe: Job['recipe']; count: number };
      return { ok: true, result: job('new', { recipe: p.recipe, count: p.count }) } as Reply<M>;
    }
    return super.call(method, params);
  }
}

async function mountView(platform: StudioPlatform) {
  const pinia = createPinia();
  setActivePinia(pinia);
  const wrapper = mount(GenerateView, { attachTo: document.body, global: { plugins: [pinia], provide: { [clientKey as symbol]: createClient(platform) } } });
  await flushPromises();
  return wrapper;
}

const enqueued = (p: StudioPlatform) => p.calls.filter((c) => c.method === 'jobs.enqueue').map((c) => c.params);

beforeEach(() => localStorage.clear());

describe('Generate view', () => {
  it('preselects the default model and submits the form with Ctrl+Enter', async () => {
    const platform = new StudioPlatform();
    platform.models = [
      model('a', { addedAt: '2026-01-02T00:00:00.000Z' }),
      model('b'),
      model('c', { addedAt: '2025-01-01T00:00:00.000Z', pipeline: { textEncoder: null, vae: 'v', problem: 'C needs a T5 text encoder' } }),
      model('t5', { kind: 't5' }),
    ];
    platform.settings = { ...platform.settings, defaultSteps: 9 };
    const wrapper = await mountView(platform);
    const options = wrapper.findAll('[data-testid="gen-model-select"] option').map((o) => o.text());
    expect(options).toEqual(['A', 'B', 'C (incomplete)', 'Pipeline manifest file…']);
    expect(wrapper.get('[data-testid="gen-model-select"] option[value="c"]').attributes('disabled')).toBeDefined();
    // No default in the settings and no built-in: the model added first that can generate.
    expect((wrapper.get('[data-testid="gen-model-select"]').element as HTMLSelectElement).value).toBe('b');
    expect((wrapper.get('[data-testid="gen-steps"]').element as HTMLInputElement).value).toBe('9');
    // patch 2 on an 8x VAE latent: sides in steps of 16, presets around 512.
    expect(wrapper.get('[data-testid="gen-width"]').attributes('step')).toBe('16');
    expect(wrapper.findAll('[data-testid="gen-size-preset"] option').map((o) => o.text())).toContain('1:1 · 512×512');
    // The size follows the model: its square preset.
    expect((wrapper.get('[data-testid="gen-size-preset"]').element as HTMLSelectElement).value).toBe('512x512');

    await wrapper.get('[data-testid="gen-prompt"]').setValue('a fox');
    await wrapper.get('[data-testid="seed-mode-fixed"]').setValue(true);
    await wrapper.get('[data-testid="gen-seed"]').setValue('5');
    await wrapper.get('[data-testid="gen-count"]').setValue('3');
    await wrapper.get('[data-testid="gen-prompt"]').trigger('keydown', { key: 'Enter', ctrlKey: true });
    await flushPromises();
    expect(enqueued(platform)).toEqual([
      { recipe: { prompt: 'a fox', negativePrompt: '', model: 'b', seed: '5', steps: 9, guidance: 4.5, sampler: 'dpm++2m', width: 512, height: 512 }, count: 3 },
    ]);
    expect(useGenerateFormStore().history[0]).toEqual({ prompt: 'a fox', negativePrompt: '' });
    wrapper.unmount();
  });

  it('says why it cannot submit, and sends nothing', async () => {
    const platform = new StudioPlatform();
    const wrapper = await mountView(platform);
    expect(wrapper.find('[data-testid="gen-no-models"]').exists()).toBe(true);
    await wrapper.get('[data-testid="gen-prompt"]').setValue('x');
    await wrapper.get('[data-testid="gen-model"]').setValue('/m.json');
    await wrapper.get('[data-testid="seed-mode-reuse-last"]').setValue(true);
    await wrapper.get('[data-testid="generate-form"]').trigger('submit');
    await flushPromises();
    expect(wrapper.get('[data-testid="gen-form-error"]').text()).toBe('No earlier seed to reuse yet.');
    expect(enqueued(platform)).toEqual([]);
    wrapper.unmount();
  });

  it('shows the running job with progress and preview, and the newest images in the strip', async () => {
    const platform = new StudioPlatform();
    platform.jobs = [
      job('run', { status: 'running', count: 2, startedAt: '2026-01-01T00:00:05.000Z', recipe: { prompt: 'now', negativePrompt: '', model: '/m.json', seed: '77' } }),
      job('old', { status: 'done', imageIds: ['a'.repeat(32)], finishedAt: '2026-01-01T00:00:01.000Z' }),
      job('new', { status: 'done', imageIds: ['b'.repeat(32), 'c'.repeat(32)], finishedAt: '2026-01-01T00:00:03.000Z' }),
    ];
    const wrapper = await mountView(platform);
    platform.emit('onJobProgress', { id: 'run', stage: 'sampling', image: 1, count: 2, step: 5, steps: 10, etaSeconds: 3 });
    platform.emit('onJobPreview', { id: 'run', image: 1, step: 5, dataUrl: 'data:image/png;base64,AAAA' });
    await flushPromises();
    expect(wrapper.get('[data-testid="job-detail"]').text()).toBe('image 2 of 2, step 5 of 10 · 75% · 3 s left');
    expect(wrapper.get('[data-testid="job-preview"]').attributes('src')).toBe('data:image/png;base64,AAAA');
    expect(wrapper.findAll('[data-testid="result-image"] img').map((i) => i.attributes('src'))).toEqual([
      `library/thumb/${'b'.repeat(32)}`,
      `library/thumb/${'c'.repeat(32)}`,
      `library/thumb/${'a'.repeat(32)}`,
    ]);
    // "Reuse last" offers the running job's seed.
    await wrapper.get('[data-testid="seed-mode-reuse-last"]').setValue(true);
    expect(wrapper.get('[data-testid="seed-last"]').text()).toBe('Seed 77');
    await wrapper.get('[data-testid="job-cancel"]').trigger('click');
    expect(platform.calls.at(-1)).toEqual({ method: 'jobs.cancel', params: { id: 'run' } });
    wrapper.unmount();
  });
});

describe('Generate view and recall', () => {
  it('keeps a recalled model that is registered, and says when it is not', async () => {
    const platform = new StudioPlatform();
    platform.models = [model('a'), model('b', { addedAt: '2026-01-02T00:00:00.000Z' })];
    const pinia = createPinia();
    setActivePinia(pinia);
    // A recall before the view (and its model list) is there.
    useGenerateFormStore().applyRecipe({ prompt: 'p', negativePrompt: '', modelId: 'b', seed: '3', steps: 11 });
    const wrapper = mount(GenerateView, { global: { plugins: [pinia], provide: { [clientKey as symbol]: createClient(platform) } } });
    await flushPromises();
    expect((wrapper.get('[data-testid="gen-model-select"]').element as HTMLSelectElement).value).toBe('b');
    // The recalled steps survive the settings' defaults.
    expect((wrapper.get('[data-testid="gen-steps"]').element as HTMLInputElement).value).toBe('11');
    expect(wrapper.find('[data-testid="gen-model-notice"]').exists()).toBe(false);
    wrapper.unmount();

    useGenerateFormStore().applyRecipe({ prompt: 'p', negativePrompt: '', modelId: 'elsewhere' });
    const again = mount(GenerateView, { global: { plugins: [pinia], provide: { [clientKey as symbol]: createClient(platform) } } });
    await flushPromises();
    expect((again.get('[data-testid="gen-model-select"]').element as HTMLSelectElement).value).toBe('a');
    expect(again.get('[data-testid="gen-model-notice"]').text()).toBe('The model "elsewhere" is not registered here; using A.');
    again.unmount();
  });
});

describe('Generate view and the default model', () => {
  it('follows the default when another is chosen, until the user picks a model', async () => {
    const platform = new StudioPlatform();
    platform.models = [model('a', { addedAt: '2026-01-02T00:00:00.000Z' }), model('b'), model('c', { addedAt: '2026-01-03T00:00:00.000Z' })];
    const wrapper = await mountView(platform);
    const select = () => wrapper.get('[data-testid="gen-model-select"]').element as HTMLSelectElement;
    expect(select().value).toBe('b');
    platform.emit('onSettingsChanged', { ...platform.settings, defaultModel: 'a' });
    await flushPromises();
    expect(select().value).toBe('a');
    await wrapper.get('[data-testid="gen-model-select"]').setValue('c');
    platform.emit('onSettingsChanged', { ...platform.settings, defaultModel: 'b' });
    await flushPromises();
    expect(select().value).toBe('c');
    wrapper.unmount();
  });
});
