// The models store's conversion state against an in-memory API: which models can be converted
// (a Dimba model running from a .pt, including one whose .pt sits in its own folder), the weights
// a model runs from before and after, progress events by model, an outcome that arrives before
// the reply is kept, a refused start is a typed error, and cancel asks the API.
import { createPinia, setActivePinia } from 'pinia';
import { createApp } from 'vue';
import { describe, expect, it } from 'vitest';
import {
  methods,
  type ApiErrorShape,
  type Conversion,
  type EventName,
  type MethodName,
  type Model,
  type PayloadOf,
  type Reply,
  type StudioPlatform,
} from '../../../main/api/index.js';
import { createClient } from '../../../renderer/api/client';
import { clientKey } from '../../../renderer/composables/useClient';
import { canConvert, useModelsStore, weightsFileOf } from '../../../renderer/stores/models';

const local: Model = {
  id: 'mine-1',
  name: 'Mine',
  kind: 'dimba',
  status: 'ready',
  source: { type: 'local', path: '/ckpts/dimba-l-512.pt' },
  files: [{ path: '/ckpts/dimba-l-512.pt', bytes: 3801, sha256: null }],
  totalBytes: 3801,
  config: null,
  validation: null,
  addedAt: '2026-01-01T00:00:00Z',
};
/** The same model after models.convert: the manifest lists the converted file in its folder. */
const converted: Model = { ...local, files: [{ path: 'dimba-l-512.safetensors', bytes: 1200, sha256: null }], totalBytes: 1200 };
const running: Conversion = { modelId: 'mine-1', state: 'running', doneBytes: 0, totalBytes: null, error: null };

/** Answers models.convert / cancelConversion; `beforeReply` runs while the reply is pending. */
class ConversionPlatform implements StudioPlatform {
  readonly kind = 'browser' as const;
  calls: { method: string; params: unknown }[] = [];
  failNext: ApiErrorShape | null = null;
  beforeReply: (() => void) | null = null;
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
      case 'models.convert':
        this.emit('onModelConversion', running);
        this.beforeReply?.();
        return ok(running);
      case 'models.cancelConversion':
        return ok({ cancelled: true });
      default:
        return ok([]);
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

function setup() {
  const platform = new ConversionPlatform();
  const app = createApp({});
  app.provide(clientKey, createClient(platform));
  const pinia = createPinia();
  setActivePinia(pinia);
  app.use(pinia);
  const store = app.runWithContext(() => useModelsStore());
  return { platform, store };
}

describe('which models convert, and what they run from', () => {
  it('a local Dimba .pt converts; after conversion it runs from the safetensors in its folder', () => {
    expect(weightsFileOf(local)).toBe('/ckpts/dimba-l-512.pt');
    expect(canConvert(local)).toBe(true);
    expect(weightsFileOf(converted)).toBe('dimba-l-512.safetensors');
    expect(canConvert(converted)).toBe(false);
  });

  it('a downloaded .pt in the model folder converts; a safetensors beside it wins; other kinds never', () => {
    const downloaded: Model = { ...local, source: { type: 'download', catalogueId: 'd', urls: [] }, files: [{ path: 'dimba.pt', bytes: 1, sha256: null }] };
    expect(canConvert(downloaded)).toBe(true);
    expect(weightsFileOf({ ...downloaded, files: [...downloaded.files, { path: 'dimba.safetensors', bytes: 1, sha256: null }] })).toBe('dimba.safetensors');
    expect(canConvert({ ...local, source: { type: 'local', path: '/ckpts/dimba.safetensors' }, files: [{ path: '/ckpts/dimba.safetensors', bytes: 1, sha256: null }] })).toBe(false);
    expect(canConvert({ ...local, kind: 'vae' })).toBe(false);
    expect(canConvert({ ...local, kind: 'builtin', source: { type: 'builtin' }, files: [] })).toBe(false);
    // A Windows path is absolute too: the model runs from the file it was registered from.
    expect(weightsFileOf({ ...local, source: { type: 'local', path: 'C:\\ckpts\\d.pt' }, files: [{ path: 'C:\\ckpts\\d.pt', bytes: 1, sha256: null }] })).toBe('C:\\ckpts\\d.pt');
  });
});

describe('the store\'s conversion state', () => {
  it('follows a conversion by model id from start to done, and cancel asks the API', async () => {
    const { platform, store } = setup();
    await store.convert('mine-1');
    expect(platform.calls.at(-1)).toEqual({ method: 'models.convert', params: { id: 'mine-1' } });
    expect(store.conversions['mine-1']).toEqual(running);
    platform.emit('onModelConversion', { ...running, doneBytes: 500, totalBytes: 1000 });
    platform.emit('onModelConversion', { modelId: 'other', state: 'running', doneBytes: 1, totalBytes: 2, error: null });
    expect(store.conversions['mine-1']).toMatchObject({ state: 'running', doneBytes: 500, totalBytes: 1000 });
    expect(store.conversions['other']).toMatchObject({ doneBytes: 1 });

    await store.cancelConversion('mine-1');
    expect(platform.calls.at(-1)).toEqual({ method: 'models.cancelConversion', params: { id: 'mine-1' } });
    platform.emit('onModelConversion', { ...running, state: 'cancelled', doneBytes: 500, totalBytes: 1000, error: { code: 'E_CANCELLED', message: 'cancelled' } });
    expect(store.conversions['mine-1']?.state).toBe('cancelled');
    expect(store.error).toBeNull();
  });

  it('an outcome that arrives before the reply is kept; a new start forgets the last outcome', async () => {
    const { platform, store } = setup();
    const done: Conversion = { ...running, state: 'done', doneBytes: 1000, totalBytes: 1000 };
    platform.beforeReply = () => platform.emit('onModelConversion', done);
    await store.convert('mine-1');
    expect(store.conversions['mine-1']).toEqual(done);

    const failed: Conversion = { ...running, state: 'failed', error: { code: 'E_BAD_FILE', message: 'not a zip' } };
    platform.beforeReply = () => {
      // Cleared when the new start was asked for, before any event of the new run.
      expect(store.conversions['mine-1']).toEqual(running);
      platform.emit('onModelConversion', failed);
    };
    await store.convert('mine-1');
    expect(store.conversions['mine-1']).toEqual(failed);
  });

  it('a refused start is a typed error and leaves no conversion behind', async () => {
    const { platform, store } = setup();
    platform.failNext = { code: 'CONFLICT', message: 'Mine has no PyTorch checkpoint to convert' };
    await store.convert('mine-1');
    expect(store.error).toEqual({ code: 'CONFLICT', message: 'Mine has no PyTorch checkpoint to convert' });
    expect(store.conversions['mine-1']).toBeUndefined();
  });
});
