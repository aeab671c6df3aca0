// @vitest-environment happy-dom
// The Models view: registered models with kind, size and status; a local path checked and
// registered with its validation shown; download progress from events; a .pt converted to
// safetensors with progress, cancel, the file it then runs from and a failure's code; typed
// errors shown.
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia } from 'pinia';
import { describe, expect, it } from 'vitest';
import {
  methods,
  type ApiErrorShape,
  type Conversion,
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
  /** models.register answers once this settles. */
  registerGate: Promise<void> = Promise.resolve();
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
        await this.registerGate;
        this.models = [...this.models, model];
        return ok([model]);
      case 'models.download':
        return ok({ catalogueId: 'sdxl-vae', state: 'running', file: null, receivedBytes: 0, totalBytes: 1000, bytesPerSecond: 0, etaSeconds: null, error: null });
      case 'models.convert':
        return ok({ modelId: (params as { id: string }).id, state: 'running', doneBytes: 0, totalBytes: null, error: null });
      case 'models.cancelConversion':
        return ok({ cancelled: true });
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

  it('clears the submitted name after registering, but not a name typed while the call was in flight', async () => {
    const { wrapper, platform } = await mountView();
    const name = wrapper.get('[data-testid="models-name"]');
    await wrapper.get('[data-testid="models-path"]').setValue('/m/a.safetensors');
    await name.setValue('First');
    await wrapper.get('[data-testid="models-add"]').trigger('submit');
    await flushPromises();
    expect((name.element as HTMLInputElement).value).toBe('');

    let answer = (): void => {};
    platform.registerGate = new Promise((resolve) => (answer = resolve));
    await wrapper.get('[data-testid="models-path"]').setValue('/m/b.safetensors');
    await name.setValue('Second');
    await wrapper.get('[data-testid="models-add"]').trigger('submit');
    await name.setValue('Third');
    answer();
    await flushPromises();
    expect(platform.calls.filter((c) => c.method === 'models.register').map((c) => c.params)).toEqual([
      { path: '/m/a.safetensors', name: 'First' },
      { path: '/m/b.safetensors', name: 'Second' },
    ]);
    expect((name.element as HTMLInputElement).value).toBe('Third');
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
    await item.get('[data-testid="download-cancel"]').trigger('click');
    await flushPromises();
    expect(platform.calls.at(-1)).toEqual({ method: 'models.cancelDownload', params: { catalogueId: 'sdxl-vae' } });
    platform.emit('onModelDownload', { ...running, state: 'cancelled', error: { code: 'E_CANCELLED', message: 'download cancelled' } });
    await flushPromises();
    expect(item.get('[data-testid="download-state"]').text()).toMatch(/^cancelled\s+at 500 B of 1.00 KB; Resume continues from there$/);
    expect(item.get('[data-testid="download-start"]').attributes('aria-label')).toBe('Resume SDXL VAE');
    platform.emit('onModelDownload', { ...running, state: 'failed', error: { code: 'E_HASH_MISMATCH', message: 'bad bytes' } });
    await flushPromises();
    expect(item.get('[data-testid="download-state"]').text()).toContain('E_HASH_MISMATCH');
    expect(item.get('[data-testid="download-start"]').text()).toBe('Resume');
  });

  it('converts a .pt with live progress and cancel, then shows the file the model runs from', async () => {
    const platform = new ModelsPlatform();
    const pt: Model = { ...model, source: { type: 'local', path: '/m/dimba-l-512.pt' }, files: [{ path: '/m/dimba-l-512.pt', bytes: 3801, sha256: null }] };
    platform.models = [pt];
    const { wrapper } = await mountView(platform);
    const row = () => wrapper.get('[data-testid="model-tiny-dimba-abc123"]');
    expect(row().get('[data-testid="model-weights"]').text()).toBe('runs from dimba-l-512.pt');
    const convert = row().get('[data-testid="model-convert"]');
    expect(convert.attributes('aria-label')).toBe('Convert to safetensors: Tiny Dimba');
    await convert.trigger('click');
    await flushPromises();
    expect(platform.calls.at(-1)).toEqual({ method: 'models.convert', params: { id: 'tiny-dimba-abc123' } });
    const status = () => wrapper.get('[data-testid="conversion-tiny-dimba-abc123"]');
    expect(status().get('[data-testid="conversion-state"]').text()).toContain('reading the checkpoint');
    expect(row().get('[data-testid="model-convert"]').attributes('disabled')).toBeDefined();
    expect(row().get('[data-testid="model-remove"]').attributes('disabled')).toBeDefined();

    const progress: Conversion = { modelId: pt.id, state: 'running', doneBytes: 1500, totalBytes: 2000, error: null };
    platform.emit('onModelConversion', progress);
    await flushPromises();
    expect((status().get('[data-testid="conversion-progress"]').element as HTMLProgressElement).value).toBe(75);
    expect(status().get('[data-testid="conversion-state"]').text()).toMatch(/1.50 KB of 2.00 KB \(75%\)/);
    const cancel = status().get('[data-testid="conversion-cancel"]');
    expect(cancel.attributes('aria-label')).toBe('Cancel the conversion of Tiny Dimba');
    await cancel.trigger('click');
    await flushPromises();
    expect(platform.calls.at(-1)).toEqual({ method: 'models.cancelConversion', params: { id: pt.id } });
    platform.emit('onModelConversion', { ...progress, state: 'cancelled', error: { code: 'E_CANCELLED', message: 'cancelled' } });
    await flushPromises();
    expect(status().get('[data-testid="conversion-state"]').text()).toBe('Conversion cancelled; Tiny Dimba still runs from dimba-l-512.pt.');
    expect(status().find('[data-testid="conversion-progress"]').exists()).toBe(false);

    // Again, to the end: the main side lists the converted file, then reports done.
    await row().get('[data-testid="model-convert"]').trigger('click');
    await flushPromises();
    platform.emit('onModelsChanged', [{ ...pt, files: [{ path: 'dimba-l-512.safetensors', bytes: 2100, sha256: null }], totalBytes: 2100 }]);
    platform.emit('onModelConversion', { ...progress, state: 'done', doneBytes: 2000 });
    await flushPromises();
    expect(status().get('[data-testid="conversion-state"]').attributes('role')).toBe('status');
    expect(status().get('[data-testid="conversion-state"]').text()).toContain('now runs from dimba-l-512.safetensors');
    expect(row().get('[data-testid="model-weights"]').text()).toBe('runs from dimba-l-512.safetensors');
    expect(row().find('[data-testid="model-convert"]').exists()).toBe(false);
  });

  it('shows a failed conversion\'s code and words as an alert; models without a .pt offer no conversion', async () => {
    const platform = new ModelsPlatform();
    const pt: Model = { ...model, source: { type: 'local', path: '/m/evil.pt' }, files: [{ path: '/m/evil.pt', bytes: 300, sha256: null }] };
    platform.models = [pt, { ...model, id: 'st-1', name: 'Safe' }, { ...model, id: 'vae-1', kind: 'vae', source: { type: 'local', path: '/m/vae.pt' } }];
    const { wrapper } = await mountView(platform);
    expect(wrapper.findAll('[data-testid="model-convert"]')).toHaveLength(1);
    await wrapper.get('[data-testid="model-convert"]').trigger('click');
    await flushPromises();
    platform.emit('onModelConversion', { modelId: pt.id, state: 'failed', doneBytes: 0, totalBytes: null, error: { code: 'E_UNSUPPORTED_FORMAT', message: 'global posix.system is not allowed' } });
    await flushPromises();
    const state = wrapper.get('[data-testid="conversion-tiny-dimba-abc123"] [data-testid="conversion-state"]');
    expect(state.attributes('role')).toBe('alert');
    expect(state.get('[data-testid="conversion-error-code"]').text()).toBe('E_UNSUPPORTED_FORMAT');
    expect(state.text()).toContain('Tiny Dimba is unchanged');
    expect(state.text()).toContain('global posix.system is not allowed');
    // It can be tried again.
    expect(wrapper.get('[data-testid="model-convert"]').attributes('disabled')).toBeUndefined();
  });
});
