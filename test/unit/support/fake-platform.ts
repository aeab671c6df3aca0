import {
  DEFAULT_SETTINGS,
  methods,
  type ApiErrorShape,
  type EventName,
  type MethodName,
  type PayloadOf,
  type Reply,
  type Settings,
  type StudioPlatform,
} from '../../../main/api/index.js';

/** An in-memory platform for renderer tests: settings live in a variable, failures can be forced. */
export class FakePlatform implements StudioPlatform {
  readonly kind = 'browser' as const;
  settings: Settings = { ...DEFAULT_SETTINGS };
  calls: { method: string; params: unknown }[] = [];
  failNext: ApiErrorShape | null = null;
  private listeners = new Map<string, Set<(payload: unknown) => void>>();

  async call<M extends MethodName>(method: M, params?: unknown): Promise<Reply<M>> {
    this.calls.push({ method, params });
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = null;
      return { ok: false, error };
    }
    // Validate like the main side does, so a renderer sending a bad payload fails the test.
    const parsed = methods[method].params.safeParse(params);
    if (!parsed.success) return { ok: false, error: { code: 'INVALID_PARAMS', message: parsed.error.message } };
    switch (method) {
      case 'settings.update':
        this.settings = { ...this.settings, ...(parsed.data as Partial<Settings>) };
        return { ok: true, result: this.settings } as Reply<M>;
      case 'settings.reset':
        this.settings = { ...DEFAULT_SETTINGS };
        return { ok: true, result: this.settings } as Reply<M>;
      case 'settings.get':
        return { ok: true, result: this.settings } as Reply<M>;
      case 'models.list':
      case 'models.catalogue':
      case 'models.downloads':
        return { ok: true, result: [] } as Reply<M>;
      case 'jobs.list':
        return { ok: true, result: { jobs: [], paused: false } } as Reply<M>;
      case 'gallery.list':
        return { ok: true, result: { items: [] } } as Reply<M>;
      case 'gallery.collections':
        return { ok: true, result: { collections: [] } } as Reply<M>;
      case 'gallery.models':
        return { ok: true, result: { models: [] } } as Reply<M>;
      case 'tuning.list':
        return { ok: true, result: { runs: [] } } as Reply<M>;
      case 'tuning.variants':
        return { ok: true, result: { variants: [] } } as Reply<M>;
      default:
        return {
          ok: true,
          result: { name: 'Dimba Studio', version: '0.0.0-test', mode: 'browser', platform: 'test', userDataFolder: '/ud' },
        } as Reply<M>;
    }
  }

  on<E extends EventName>(event: E, listener: (payload: PayloadOf<E>) => void): () => void {
    const set = this.listeners.get(event) ?? new Set();
    const wrapped = (payload: unknown): void => listener(payload as PayloadOf<E>);
    set.add(wrapped);
    this.listeners.set(event, set);
    return () => set.delete(wrapped);
  }

  emit<E extends EventName>(event: E, payload: PayloadOf<E>): void {
    for (const listener of this.listeners.get(event) ?? []) listener(payload);
  }
}
