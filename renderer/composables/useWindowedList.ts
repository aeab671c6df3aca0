// Renders only the rows of a long list that are in view (plus a margin): a queue of 1,000 jobs
// costs the DOM about 20 rows. Rows have one fixed height; the list's element scrolls.
import { computed, onBeforeUnmount, onMounted, ref, type Ref } from 'vue';

export interface WindowedList<T> {
  /** The rows to render, each with its index in the whole list. */
  visible: Ref<{ item: T; index: number }[]>;
  /** Space above and below the rendered rows, in px, so the scrollbar matches the whole list. */
  padTop: Ref<number>;
  padBottom: Ref<number>;
  onScroll: () => void;
  /** Scrolls so that row `index` is in view. */
  reveal: (index: number) => void;
}

export function useWindowedList<T>(items: Ref<readonly T[]>, rowHeight: number, viewport: Ref<HTMLElement | null>, overscan = 6): WindowedList<T> {
  const scrollTop = ref(0);
  // Before the first measurement (and in tests without layout) assume a tall screen.
  const height = ref(1200);

  const measure = (): void => {
    const el = viewport.value;
    if (!el) return;
    scrollTop.value = el.scrollTop;
    if (el.clientHeight > 0) height.value = el.clientHeight;
  };
  let observer: ResizeObserver | null = null;
  onMounted(() => {
    measure();
    if (typeof ResizeObserver === 'function' && viewport.value) {
      observer = new ResizeObserver(measure);
      observer.observe(viewport.value);
    }
  });
  onBeforeUnmount(() => observer?.disconnect());

  const first = computed(() => Math.max(0, Math.floor(scrollTop.value / rowHeight) - overscan));
  const last = computed(() => Math.min(items.value.length, Math.ceil((scrollTop.value + height.value) / rowHeight) + overscan));
  const visible = computed(() => items.value.slice(first.value, last.value).map((item, i) => ({ item, index: first.value + i })));

  return {
    visible,
    padTop: computed(() => first.value * rowHeight),
    padBottom: computed(() => Math.max(0, (items.value.length - last.value) * rowHeight)),
    onScroll: measure,
    reveal(index) {
      const el = viewport.value;
      if (!el) return;
      const top = index * rowHeight;
      if (top < el.scrollTop) el.scrollTop = top;
      else if (top + rowHeight > el.scrollTop + el.clientHeight) el.scrollTop = top + rowHeight - el.clientHeight;
      measure();
    },
  };
}
