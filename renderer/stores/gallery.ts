// The gallery as the renderer sees it: the loaded part of the current list (filters, sort,
// cursor pages), the image open in the image view, collections and the models to filter by,
// and the actions on images (favourite, rating, tags, collections, trash with undo, restore,
// purge, recall, remix, import). Lists can reach 100,000 images: `items` is a shallow array
// replaced whole, never deeply reactive.
import { defineStore } from 'pinia';
import { computed, reactive, ref, shallowRef } from 'vue';
import {
  type ApiErrorShape,
  type GalleryCollection,
  type GalleryImage,
  type GalleryListQueryInput,
  type GalleryModelFacet,
  type GallerySort,
  type ImportResult,
  type RemixRequest,
} from '@api';
import { errorShapeOf } from '../api/errors';
import { useClient } from '../composables/useClient';
import { uploadFile } from '../composables/gallery/upload';
import { useGenerateFormStore } from './generateForm';
import { useNavigationStore } from './navigation';

export const PAGE_SIZE = 200;

export interface GalleryFilters {
  text: string;
  sort: GallerySort;
  order: 'asc' | 'desc';
  /** '' for every model. */
  modelId: string;
  collectionId: number | null;
  favouriteOnly: boolean;
  minRating: number;
  /** 'YYYY-MM-DD' (local days, inclusive) or ''. */
  dateFrom: string;
  dateTo: string;
  /** The trash instead of the live images. */
  trashed: boolean;
}

export function defaultFilters(): GalleryFilters {
  return { text: '', sort: 'created', order: 'desc', modelId: '', collectionId: null, favouriteOnly: false, minRating: 0, dateFrom: '', dateTo: '', trashed: false };
}

/** Local midnight of a 'YYYY-MM-DD' day (plus some days), or undefined. */
function localDay(day: string, plusDays = 0): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return undefined;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + plusDays).getTime();
}

/** The list query the filters describe (without cursor). */
export function listQuery(f: GalleryFilters, limit = PAGE_SIZE): GalleryListQueryInput {
  const q: GalleryListQueryInput = { sort: f.sort, order: f.order, limit, trashed: f.trashed };
  if (f.text.trim() !== '') q.text = f.text.trim();
  if (f.modelId !== '') q.modelId = f.modelId;
  if (f.collectionId !== null) q.collectionId = f.collectionId;
  if (f.favouriteOnly) q.favourite = true;
  if (f.minRating > 0) q.minRating = f.minRating;
  const from = localDay(f.dateFrom);
  // The end day is inclusive: before the next local midnight.
  const before = localDay(f.dateTo, 1);
  if (from !== undefined) q.createdFrom = from;
  if (before !== undefined) q.createdBefore = before;
  return q;
}

/** True when the filters show every live image newest first (new images belong at the top). */
export function showsNewestOfAll(f: GalleryFilters): boolean {
  const d = defaultFilters();
  return (Object.keys(d) as (keyof GalleryFilters)[]).every((k) => f[k] === d[k]);
}

/** The last move to the trash, for undo: the images and where they were in the list. */
interface TrashUndo {
  removed: { index: number; image: GalleryImage }[];
  message: string;
}

export const useGalleryStore = defineStore('gallery', () => {
  const client = useClient();
  const filters = reactive<GalleryFilters>(defaultFilters());
  const items = shallowRef<GalleryImage[]>([]);
  const nextCursor = ref<string | undefined>(undefined);
  const loading = ref(false);
  /** False until the first page of the current filters arrived. */
  const loaded = ref(false);
  const error = ref<ApiErrorShape | null>(null);
  /** The image the image view shows. */
  const current = shallowRef<GalleryImage | null>(null);
  const collections = ref<GalleryCollection[]>([]);
  const models = ref<GalleryModelFacet[]>([]);
  const undo = shallowRef<TrashUndo | null>(null);
  /** A short message for people (imported, queued, copied); the view shows and clears it. */
  const notice = ref<string | null>(null);
  /** Images added while the list could not place them (filtered or sorted otherwise). */
  const unseenAdded = ref(0);
  /** An action's error (the list's own error is `error`). */
  const actionError = ref<ApiErrorShape | null>(null);
  const busy = ref(false);

  // Each reload starts a new generation; pages of an older one are dropped when they arrive.
  let generation = 0;
  let pending: Promise<void> | null = null;

  async function fetchPage(gen: number): Promise<void> {
    const cursor = nextCursor.value;
    const query = { ...listQuery(filters), ...(cursor ? { cursor } : {}) };
    try {
      const page = await client.call('gallery.list', query);
      if (gen !== generation) return;
      items.value = items.value.concat(page.items);
      nextCursor.value = page.nextCursor;
      error.value = null;
    } catch (caught) {
      if (gen === generation) error.value = errorShapeOf(caught);
    } finally {
      if (gen === generation) {
        loaded.value = true;
        loading.value = false;
      }
    }
  }

  /** The next page of the current list, unless one is on its way or there is none. */
  function loadMore(): Promise<void> {
    if (pending) return pending;
    if (loaded.value && nextCursor.value === undefined) return Promise.resolve();
    if (error.value && loaded.value) return Promise.resolve();
    loading.value = true;
    const gen = generation;
    pending = fetchPage(gen).finally(() => {
      if (gen === generation) pending = null;
    });
    return pending;
  }

  /** Starts the list again from the first page (after the filters changed). */
  function reload(): Promise<void> {
    generation++;
    pending = null;
    items.value = [];
    nextCursor.value = undefined;
    loaded.value = false;
    error.value = null;
    unseenAdded.value = 0;
    return loadMore();
  }

  async function loadFacets(): Promise<void> {
    try {
      const [c, m] = await Promise.all([client.call('gallery.collections', {}), client.call('gallery.models', {})]);
      collections.value = c.collections;
      models.value = m.models;
    } catch (caught) {
      actionError.value = errorShapeOf(caught);
    }
  }

  function setFilters(patch: Partial<GalleryFilters>): Promise<void> {
    Object.assign(filters, patch);
    return reload();
  }

  function resetFilters(): Promise<void> {
    Object.assign(filters, { ...defaultFilters(), trashed: filters.trashed });
    return reload();
  }

  /** Puts a changed image where the old one was (list and image view). */
  function replace(image: GalleryImage): void {
    const i = items.value.findIndex((x) => x.uid === image.uid);
    if (i >= 0) {
      const next = items.value.slice();
      next[i] = image;
      items.value = next;
    }
    if (current.value?.uid === image.uid) current.value = image;
  }

  async function act<T>(task: () => Promise<T>): Promise<T | null> {
    actionError.value = null;
    busy.value = true;
    try {
      return await task();
    } catch (caught) {
      actionError.value = errorShapeOf(caught);
      return null;
    } finally {
      busy.value = false;
    }
  }

  function open(image: GalleryImage | null): void {
    current.value = image;
    actionError.value = null;
  }

  const setFavourite = (uid: string, favourite: boolean) =>
    act(async () => replace(await client.call('gallery.setFavourite', { uid, favourite })));
  const setRating = (uid: string, rating: number) => act(async () => replace(await client.call('gallery.setRating', { uid, rating })));
  const addTags = (uid: string, tags: string[]) => act(async () => replace(await client.call('gallery.addTags', { uid, tags })));
  const removeTags = (uid: string, tags: string[]) => act(async () => replace(await client.call('gallery.removeTags', { uid, tags })));

  async function refreshImage(uid: string): Promise<void> {
    replace(await client.call('gallery.get', { uid }));
  }

  const createCollection = (name: string, addUid?: string) =>
    act(async () => {
      const made = await client.call('gallery.createCollection', { name });
      if (addUid) {
        await client.call('gallery.addToCollection', { id: made.id, uids: [addUid] });
        await refreshImage(addUid);
      }
      collections.value = (await client.call('gallery.collections', {})).collections;
      return made;
    });
  const setInCollection = (id: number, uid: string, member: boolean) =>
    act(async () => {
      await client.call(member ? 'gallery.addToCollection' : 'gallery.removeFromCollection', { id, uids: [uid] });
      await refreshImage(uid);
      collections.value = (await client.call('gallery.collections', {})).collections;
      // Leaving the collection the list is filtered by takes the image out of the list.
      if (!member && filters.collectionId === id) items.value = items.value.filter((x) => x.uid !== uid);
    });

  /** Takes images out of the list (keeping where they were, for undo) and closes their view. */
  function takeOut(uids: readonly string[]): { index: number; image: GalleryImage }[] {
    const gone = new Set(uids);
    const removed: { index: number; image: GalleryImage }[] = [];
    items.value.forEach((image, index) => {
      if (gone.has(image.uid)) removed.push({ index, image });
    });
    items.value = items.value.filter((x) => !gone.has(x.uid));
    if (current.value && gone.has(current.value.uid)) current.value = null;
    return removed;
  }

  const trash = (uids: string[]) =>
    act(async () => {
      const { count } = await client.call('gallery.trash', { uids });
      const removed = takeOut(uids);
      undo.value = { removed, message: count === 1 ? 'Moved 1 image to the trash.' : `Moved ${count} images to the trash.` };
      return count;
    });

  /** Brings the last trashed images back, where they were in the list. */
  const undoTrash = () =>
    act(async () => {
      const last = undo.value;
      if (!last) return 0;
      const { count } = await client.call('gallery.restore', { uids: last.removed.map((r) => r.image.uid) });
      undo.value = null;
      if (!filters.trashed) {
        const next = items.value.slice();
        for (const r of last.removed) next.splice(Math.min(r.index, next.length), 0, { ...r.image, trashedAt: null });
        items.value = next;
      }
      return count;
    });

  const restore = (uids: string[]) =>
    act(async () => {
      const { count } = await client.call('gallery.restore', { uids });
      takeOut(uids);
      notice.value = count === 1 ? 'Restored 1 image.' : `Restored ${count} images.`;
      return count;
    });

  /** Deletes trashed images for good (these, or the whole trash). */
  const purge = (uids?: string[]) =>
    act(async () => {
      const { count } = await client.call('gallery.purge', uids ? { uids } : {});
      if (uids) takeOut(uids);
      else if (filters.trashed) takeOut(items.value.map((x) => x.uid));
      notice.value = count === 1 ? 'Deleted 1 image for good.' : `Deleted ${count} images for good.`;
      return count;
    });

  /** Fills the Generate form with the image's recipe and shows it. */
  const recall = (uid: string) =>
    act(async () => {
      const recipe = await client.call('gallery.recall', { uid });
      useGenerateFormStore().applyRecipe(recipe);
      useNavigationStore().go('generate');
      return recipe;
    });

  /** Queues the remix's jobs (the queue runs them; their images arrive in the gallery). */
  const remix = (request: RemixRequest) =>
    act(async () => {
      const out = await client.call('gallery.remix', { ...request, enqueue: true });
      notice.value = out.jobs.length === 1 ? 'Queued 1 job.' : `Queued ${out.jobs.length} jobs.`;
      return out;
    });

  /** Puts a new image at the top when the list shows the newest of everything. */
  function added(image: GalleryImage): void {
    if (items.value.some((x) => x.uid === image.uid)) return;
    if (showsNewestOfAll(filters) && loaded.value) items.value = [image, ...items.value];
    else unseenAdded.value++;
  }

  /**
   * Imports dropped or picked files one by one; the last one with a recipe also fills the
   * Generate form (its recipe recalled), and the last imported image opens in the view.
   */
  async function importFiles(files: readonly File[]): Promise<ImportResult[]> {
    const results: ImportResult[] = [];
    const failed: string[] = [];
    busy.value = true;
    actionError.value = null;
    try {
      for (const file of files) {
        try {
          results.push(await uploadFile(client, file));
        } catch (caught) {
          failed.push(`${file.name}: ${errorShapeOf(caught).message}`);
        }
      }
    } finally {
      busy.value = false;
    }
    for (const r of results) added(r.image);
    const last = results[results.length - 1];
    if (last) current.value = last.image;
    const withRecipe = [...results].reverse().find((r) => r.recipeFrom !== 'none');
    if (withRecipe) useGenerateFormStore().applyRecipe(withRecipe.image.recipe);
    const parts: string[] = [];
    const fresh = results.filter((r) => !r.duplicate).length;
    if (results.length > 0) parts.push(`Imported ${fresh} image${fresh === 1 ? '' : 's'}${results.length > fresh ? ` (${results.length - fresh} already in the library)` : ''}.`);
    if (withRecipe) parts.push(`Recipe (${withRecipe.recipeFrom}) recalled into the Generate form.`);
    if (results.some((r) => r.warnings.length > 0)) parts.push(`Warnings: ${results.flatMap((r) => r.warnings).join('; ')}`);
    notice.value = parts.join(' ') || null;
    if (failed.length > 0) actionError.value = { code: 'INVALID_PARAMS', message: `Not imported: ${failed.join('; ')}` };
    void loadFacets();
    return results;
  }

  client.on('onGalleryImageAdded', (image) => added(image));

  return {
    filters,
    items,
    nextCursor,
    loading,
    loaded,
    error,
    current,
    collections,
    models,
    undo,
    notice,
    unseenAdded,
    actionError,
    busy,
    hasMore: computed(() => nextCursor.value !== undefined),
    reload,
    loadMore,
    loadFacets,
    setFilters,
    resetFilters,
    open,
    setFavourite,
    setRating,
    addTags,
    removeTags,
    createCollection,
    setInCollection,
    trash,
    undoTrash,
    restore,
    purge,
    recall,
    remix,
    importFiles,
  };
});
