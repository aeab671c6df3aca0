// @vitest-environment happy-dom
// The gallery store and view against an in-memory gallery API: cursor pages, a reload that
// drops a stale page, trash with undo in place, new images from events, import of a dropped
// file in parts with its recipe recalled, date filters; the view renders only the visible rows
// of 10,000 images and moves through them from the keyboard.
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { createApp } from 'vue';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  methods,
  UPLOAD_PART_BYTES,
  type EventName,
  type GalleryImage,
  type MethodName,
  type PayloadOf,
  type Reply,
  type StudioPlatform,
} from '../../../main/api/index.js';
import { createClient } from '../../../renderer/api/client';
import { clientKey } from '../../../renderer/composables/useClient';
import { listQuery, defaultFilters, PAGE_SIZE, useGalleryStore } from '../../../renderer/stores/gallery';
import { useGenerateFormStore } from '../../../renderer/stores/generateForm';
import GalleryView from '../../../renderer/views/GalleryView.vue';

function image(n: number, prompt = `image number ${n}`): GalleryImage {
  return {
    uid: n.toString(16).padStart(32, '0'),
    file: `images/2026-01/${n}.png`,
    width: 64,
    height: 64,
    bytes: 100,
    contentHash: `h${n}`,
    createdAt: 1_700_000_000_000 + n,
    source: 'generated',
    hasRecipe: true,
    recipe: {
      prompt,
      negativePrompt: '',
      seed: String(n),
      steps: 20,
      guidance: 4.5,
      sampler: 'ddim',
      width: 64,
      height: 64,
      model: { id: 'm', name: 'M', hash: 'x' },
      adapters: [],
      engineVersion: '0.1.0',
      backend: 'cpu',
    },
    durationMs: 10,
    rating: 0,
    favourite: false,
    trashedAt: null,
    tags: [],
    collectionIds: [],
  };
}

/** gallery.* from memory (newest first, text as a substring), validating params like main. */
class GalleryPlatform implements StudioPlatform {
  readonly kind = 'browser' as const;
  calls: { method: string; params: unknown }[] = [];
  images: GalleryImage[] = [];
  uploads = new Map<string, string[]>();
  /** Holds gallery.list replies until released (to interleave a reload with a page). */
  hold: (() => void)[] | null = null;
  /** The next gallery.list fails with this. */
  failList: string | null = null;
  private listeners = new Map<string, Set<(p: unknown) => void>>();

  async call<M extends MethodName>(method: M, params?: unknown): Promise<Reply<M>> {
    this.calls.push({ method, params });
    const parsed = methods[method].params.safeParse(params);
    if (!parsed.success) return { ok: false, error: { code: 'INVALID_PARAMS', message: parsed.error.message } };
    const p = parsed.data as Record<string, never>;
    const ok = (result: unknown) => ({ ok: true, result }) as Reply<M>;
    switch (method) {
      case 'gallery.list': {
        if (this.hold) await new Promise<void>((r) => this.hold!.push(r));
        if (this.failList) {
          const message = this.failList;
          this.failList = null;
          return { ok: false, error: { code: 'INTERNAL', message } };
        }
        const q = p as unknown as { text?: string; trashed: boolean; limit: number; cursor?: string };
        const all = this.images
          .filter((i) => (i.trashedAt !== null) === q.trashed && (!q.text || i.recipe.prompt.includes(q.text)))
          .sort((a, b) => b.createdAt - a.createdAt);
        const from = q.cursor ? Number(q.cursor) : 0;
        const items = all.slice(from, from + q.limit);
        return ok(from + q.limit < all.length ? { items, nextCursor: String(from + q.limit) } : { items });
      }
      case 'gallery.collections':
        return ok({ collections: [] });
      case 'gallery.models':
        return ok({ models: [{ id: 'm', name: 'M', count: this.images.length }] });
      case 'gallery.trash':
      case 'gallery.restore': {
        const uids = new Set((p as unknown as { uids: string[] }).uids);
        for (const i of this.images) if (uids.has(i.uid)) i.trashedAt = method === 'gallery.trash' ? 1 : null;
        return ok({ count: uids.size });
      }
      case 'gallery.uploadPart': {
        const { upload, index, data } = p as unknown as { upload: string; index: number; data: string };
        const parts = this.uploads.get(upload) ?? [];
        if (index !== parts.length) return { ok: false, error: { code: 'INVALID_PARAMS', message: 'out of order' } };
        parts.push(data);
        this.uploads.set(upload, parts);
        return ok({ bytes: parts.reduce((n, d) => n + atob(d).length, 0) });
      }
      case 'gallery.importUpload': {
        const parts = this.uploads.get((p as unknown as { upload: string }).upload) ?? [];
        const made = { ...image(99_999, `dropped file of ${parts.reduce((n, d) => n + atob(d).length, 0)} bytes`), source: 'imported' as const };
        this.images.push(made);
        return ok({ image: made, duplicate: false, recipeFrom: 'a1111', warnings: [] });
      }
      default:
        return { ok: false, error: { code: 'INTERNAL', message: `not in this fake: ${method}` } };
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

function setup(count: number) {
  const platform = new GalleryPlatform();
  platform.images = Array.from({ length: count }, (_, n) => image(n));
  const pinia = createPinia();
  const app = createApp({});
  app.provide(clientKey, createClient(platform));
  app.use(pinia);
  setActivePinia(pinia);
  // Stores resolve the client through inject: run them inside the app's context.
  const store = app.runWithContext(() => useGalleryStore());
  const form = app.runWithContext(() => useGenerateFormStore());
  return { platform, pinia, store, form, client: createClient(platform) };
}

describe('gallery store', () => {
  it('pages with the cursor until the end, and a reload drops a page of the old filters', async () => {
    const { platform, store } = setup(450);
    await store.reload();
    expect(store.items).toHaveLength(PAGE_SIZE);
    await store.loadMore();
    await store.loadMore();
    expect(store.items).toHaveLength(450);
    expect(store.hasMore).toBe(false);
    expect(new Set(store.items.map((i) => i.uid)).size).toBe(450);
    await store.loadMore();
    expect(platform.calls.filter((c) => c.method === 'gallery.list')).toHaveLength(3);

    platform.hold = [];
    const stale = store.reload();
    await flushPromises();
    const fresh = store.setFilters({ text: 'number 7' });
    await flushPromises();
    for (const release of platform.hold.splice(0)) release();
    platform.hold = null;
    await Promise.all([stale, fresh]);
    expect(store.items.length).toBeGreaterThan(0);
    expect(store.items.every((i) => i.recipe.prompt.includes('number 7'))).toBe(true);
  });

  it('trash takes images out, undo puts them back where they were', async () => {
    const { store } = setup(10);
    await store.reload();
    const before = store.items.map((i) => i.uid);
    store.open(store.items[3]!);
    await store.trash([before[3]!, before[7]!]);
    expect(store.items.map((i) => i.uid)).toEqual(before.filter((_, k) => k !== 3 && k !== 7));
    expect(store.current).toBeNull();
    expect(store.undo?.message).toBe('Moved 2 images to the trash.');
    await store.undoTrash();
    expect(store.items.map((i) => i.uid)).toEqual(before);
    expect(store.undo).toBeNull();
  });

  it('a new image goes on top of the unfiltered list, and is counted when the list is filtered', async () => {
    const { platform, store } = setup(3);
    await store.reload();
    platform.emit('onGalleryImageAdded', image(50));
    expect(store.items[0]?.uid).toBe(image(50).uid);
    await store.setFilters({ text: 'number' });
    platform.emit('onGalleryImageAdded', image(51));
    expect(store.items.some((i) => i.uid === image(51).uid)).toBe(false);
    expect(store.unseenAdded).toBe(1);
  });

  it('imports a dropped file in parts, opens it and recalls its recipe into the Generate form', async () => {
    const { platform, store, form } = setup(0);
    await store.reload();
    const bytes = new Uint8Array(UPLOAD_PART_BYTES * 2 + 10).map((_, i) => i & 0xff);
    const results = await store.importFiles([new File([bytes], 'dropped.png', { type: 'image/png' })]);
    const parts = platform.calls.filter((c) => c.method === 'gallery.uploadPart').map((c) => (c.params as { index: number }).index);
    expect(parts).toEqual([0, 1, 2]);
    expect(results[0]?.image.recipe.prompt).toBe(`dropped file of ${bytes.length} bytes`);
    expect(store.current?.uid).toBe(results[0]?.image.uid);
    expect(store.items[0]?.uid).toBe(results[0]?.image.uid);
    expect(form.prompt).toBe(`dropped file of ${bytes.length} bytes`);
    expect(store.notice).toMatch(/Imported 1 image\. Recipe \(a1111\) recalled/);
  });

  it('turns the date filter into local days, the last one inclusive', () => {
    const q = listQuery({ ...defaultFilters(), dateFrom: '2026-03-01', dateTo: '2026-03-31', minRating: 3, favouriteOnly: true, text: '  fox ' });
    expect(q).toMatchObject({ createdFrom: new Date(2026, 2, 1).getTime(), createdBefore: new Date(2026, 3, 1).getTime(), minRating: 3, favourite: true, text: 'fox' });
    expect(listQuery(defaultFilters())).toEqual({ sort: 'created', order: 'desc', limit: PAGE_SIZE, trashed: false });
  });
});

describe('Gallery view', () => {
  const sizes = ['clientWidth', 'clientHeight'] as const;
  const saved = sizes.map((k) => Object.getOwnPropertyDescriptor(HTMLElement.prototype, k));
  beforeEach(() => {
    Object.defineProperty(HTMLElement.prototype, 'clientWidth', { configurable: true, get: () => 1000 });
    Object.defineProperty(HTMLElement.prototype, 'clientHeight', { configurable: true, get: () => 700 });
  });
  afterEach(() => {
    sizes.forEach((k, i) => {
      if (saved[i]) Object.defineProperty(HTMLElement.prototype, k, saved[i]!);
    });
  });

  it('shows loading, then an error with a retry that loads the list, and the empty state of a filter', async () => {
    const platform = new GalleryPlatform();
    platform.images = [image(1)];
    platform.failList = 'the library is unavailable: disk gone';
    platform.hold = [];
    const wrapper = mount(GalleryView, { global: { plugins: [createPinia()], provide: { [clientKey as symbol]: createClient(platform) } } });
    await flushPromises();
    expect(wrapper.find('[data-testid="gallery-loading"]').exists()).toBe(true);
    for (const release of platform.hold.splice(0)) release();
    platform.hold = null;
    await flushPromises();
    expect(wrapper.get('[data-testid="gallery-error"]').text()).toContain('disk gone');
    await wrapper.get('[data-testid="gallery-retry"]').trigger('click');
    await flushPromises();
    expect(wrapper.find('[data-testid="gallery-error"]').exists()).toBe(false);
    expect(wrapper.findAll('[data-testid="gallery-cell"]')).toHaveLength(1);
    const search = wrapper.get('[data-testid="gallery-search"]');
    await search.setValue('nothing like it');
    await search.trigger('keydown', { key: 'Enter' });
    await flushPromises();
    expect(wrapper.get('[data-testid="gallery-empty"]').text()).toMatch(/No image matches these filters/);
    wrapper.unmount();
  });

  it('renders only the visible rows, moves with the keyboard, opens the image view with named controls', async () => {
    const platform = new GalleryPlatform();
    platform.images = Array.from({ length: 10_000 }, (_, n) => image(n));
    const wrapper = mount(GalleryView, { global: { plugins: [createPinia()], provide: { [clientKey as symbol]: createClient(platform) } }, attachTo: document.body });
    await flushPromises();
    const cells = wrapper.findAll('[data-testid="gallery-cell"]');
    // (1000 - 16 + 8) / 168 = 5 columns; 700 / 168 -> 6 rows with the one partly shown, + 2 below.
    expect(cells.length).toBe(5 * (Math.ceil(700 / 168) + 1 + 2));
    const grid = wrapper.get('[data-testid="gallery-grid"]');
    expect(grid.attributes('aria-label')).toBe('Images');
    await grid.trigger('keydown', { key: 'ArrowDown' });
    await grid.trigger('keydown', { key: 'ArrowRight' });
    const sixth = cells[6]!.attributes('data-uid');
    expect(grid.attributes('aria-activedescendant')).toBe(`gallery-cell-${sixth}`);
    await grid.trigger('keydown', { key: 'Enter' });
    await flushPromises();
    const detail = wrapper.get('[data-testid="image-detail"]');
    expect(detail.get('[data-testid="detail-prompt"]').text()).toBe(platform.images.find((i) => i.uid === sixth)!.recipe.prompt);
    // Every control has a name people (and screen readers) can use.
    for (const control of wrapper.findAll('button, input, select, textarea')) {
      const el = control.element as HTMLElement;
      const name = el.getAttribute('aria-label') ?? el.closest('label')?.textContent ?? el.textContent;
      expect(name?.trim(), el.outerHTML.slice(0, 120)).toBeTruthy();
    }
    wrapper.unmount();
  });
});
