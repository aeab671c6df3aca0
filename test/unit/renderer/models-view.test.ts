// @vitest-environment happy-dom
// The Models view: registered models with kind, size and status; a local path checked and
// registered with its validation shown; download progress from events; typed errors shown.
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia } from 'pinia';
import { describe, expect, it } from 'vitest';
import {
  methods,
  type ApiErrorShape,
  type Download,
  type EventName,
  type MethodName,
  type Model,
  type PayloadOf,
  type Reply,
  type StudioPlatform,
  type Validation,
} from '../../../main/api/index.js';
import { createClient } from '../../../renderer/api/client';
import { clientKey } from '../../../renderer/composables/useClient';
import ModelsView from '../../../renderer/views/ModelsView.vue';

const report: Validation = {
  path: '/m/vae',
  architecture: 'vae',
  checkedBy: 'engine',
  ok: false,
  tensorCount: 199,
  totalBytes: 1_300_000,
  dtypes: { F32: 199 },
  matched: 198,
  expected: 200,
  missing: ['decoder.conv_out.weight', 'decoder.conv_out.bias'],
  unexpected: [],
  wrongShape: ['encoder.conv_in.weight: got [3], expected [128, 3, 3, 3]'],
  problems: [],
  unchecked: [],
};

const model: Model = {
  id: 'tiny-dimba-abc123',
  name: 'Tiny Dimba',
  kind: 'dimba',
  status: 'ready',
  source: { type: 'local', path: '/m/dimba.safetensors' },
  files: [{ path: '/m/dimba.safetensors', bytes: 2_500_000_000, sha256: null }],
  totalBytes: 2_500_000_000,
  config: null,
  validation: null,
  addedAt: '2026-01-01T00:00:00Z',
};

/** Answers models.* from memory, validating params like the main side. */
class ModelsPlatform implements StudioPlatform {
  readonly kind = 'browser' as const;
  calls: { method: string; params: unknown }[] = [];
  models: Model[] = [];
  failNext: ApiErrorShape | null = null;
  private listeners = new Map<string, Set<(p: unknown) => void>>();

  async call<M extends MethodName>(method: M, params?: unknown): Promise<Reply<M>> {
    this.calls.push({ method, params });
    const parsed = methods[method].params.safeParse(params);
    if (!parsed.success) return { ok: false, error: { code: 'INVALID_PARAMS', message: parsed.error.message } };
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = null;
      return { ok: false, error };
    }
    const ok = (result: unknown): Reply<M> => ({ ok: true, result }) as Reply<M>;
    switch (method) {
      case 'models.list':
        return ok(this.models);
      case 'models.catalogue':
        return ok([{ id: 'sdxl-vae', name: 'SDXL VAE', kind: 'vae', description: 'decoder', files: [{ url: 'https://x/y', path: 'y', bytes: 1000, sha256: null }] }]);
      case 'models.downloads':
        return ok([]);
      case 'models.validate':
        return ok(report);
      case 'models.register':
        this.models = [...this.models, model];
        return ok([model]);
      case 'models.download':
        return ok({ catalogueId: 'sdxl-vae', state: 'running', file: null, receivedBytes: 0, totalBytes: 1000, bytesPerSecond: 0, etaSeconds: null, error: null });
      default:
        return ok({});
    }
  }

  on<E extends EventName>(event: E, listener: (payload: PayloadOf<E>) => void): () => void {
    const set = this.listeners.get(event) ?? new Set();
    const wrapped = (p: unknown): void => listener(p as PayloadOf<E>);
    set.add(wrapped);
    this.listeners.set(event, set);
    return () => set.delete(wrapped);
  }

  emit<E extends EventName>(event: E, payload: PayloadOf<E>): void {
    for (const l of this.listeners.get(event) ?? []) l(payload);
  }
}

async function mountView(platform = new ModelsPlatform()) {
  const wrapper = mount(ModelsView, { global: { plugins: [createPinia()], provide: { [clientKey as symbol]: createClient(platform) } } });
  await flushPromises();
  return { wrapper, platform };
}

describe('Models view', () => {
  it('lists registered models with kind, size and status', async () => {
    const platform = new ModelsPlatform();
    platform.models = [model, { ...model, id: 'gone-1', name: 'Gone', kind: 'vae', status: 'missing' }];
    const { wrapper } = await mountView(platform);
    const row = wrapper.get('[data-testid="model-tiny-dimba-abc123"]');
    expect(row.get('[data-testid="model-kind"]').text()).toBe('dimba');
    expect(row.get('[data-testid="model-size"]').text()).toBe('2.50 GB');
    expect(wrapper.get('[data-testid="model-gone-1"] [data-testid="model-status"]').text()).toBe('missing');
  });

  it('checks a path and shows every defect the validation found', async () => {
    const { wrapper, platform } = await mountView();
    expect(wrapper.find('[data-testid="models-empty"]').exists()).toBe(true);
    await wrapper.get('[data-testid="models-path"]').setValue('/m/vae');
    await wrapper.get('[data-testid="models-check"]').trigger('click');
    await flushPromises();
    expect(platform.calls.at(-1)).toEqual({ method: 'models.validate', params: { path: '/m/vae' } });
    const text = wrapper.get('[data-testid="model-validation"]').text();
    expect(text).toContain('Not valid');
    expect(text).toContain('198 of 200');
    expect(text).toContain('decoder.conv_out.bias');
    expect(text).toContain('encoder.conv_in.weight: got [3]');
  });

  it('registers a path and lists the new model', async () => {
    const { wrapper, platform } = await mountView();
    await wrapper.get('[data-testid="models-path"]').setValue('/m/dimba.safetensors');
    await wrapper.get('[data-testid="models-add"]').trigger('submit');
    await flushPromises();
    expect(platform.calls.find((c) => c.method === 'models.register')?.params).toEqual({ path: '/m/dimba.safetensors' });
    expect(wrapper.find('[data-testid="model-tiny-dimba-abc123"]').exists()).toBe(true);
  });

  it('shows a refused registration as a typed error', async () => {
    const { wrapper, platform } = await mountView();
    await wrapper.get('[data-testid="models-path"]').setValue('/m/notes.txt');
    platform.failNext = { code: 'MODEL_INVALID', message: '/m/notes.txt is not a Dimba, T5 or VAE checkpoint' };
    await wrapper.get('[data-testid="models-add"]').trigger('submit');
    await flushPromises();
    expect(wrapper.get('[data-testid="models-error"]').text()).toContain('MODEL_INVALID');
  });

  it('starts a download and follows its progress events to the end', async () => {
    const { wrapper, platform } = await mountView();
    await wrapper.get('[data-testid="catalogue-sdxl-vae"] [data-testid="download-start"]').trigger('click');
    await flushPromises();
    const running: Download = { catalogueId: 'sdxl-vae', state: 'running', file: 'y', receivedBytes: 500, totalBytes: 1000, bytesPerSecond: 250, etaSeconds: 2, error: null };
    platform.emit('onModelDownload', running);
    await flushPromises();
    const item = wrapper.get('[data-testid="catalogue-sdxl-vae"]');
    expect((item.get('[data-testid="download-progress"]').element as HTMLProgressElement).value).toBe(50);
    expect(item.get('[data-testid="download-state"]').text()).toMatch(/500 B of 1.00 KB, 250 B\/s, 2 s left/);
    expect(item.find('[data-testid="download-cancel"]').exists()).toBe(true);
    platform.emit('onModelDownload', { ...running, state: 'failed', error: { code: 'E_HASH_MISMATCH', message: 'bad bytes' } });
    await flushPromises();
    expect(item.get('[data-testid="download-state"]').text()).toContain('E_HASH_MISMATCH');
    expect(item.get('[data-testid="download-start"]').text()).toBe('Resume');
  });
});
