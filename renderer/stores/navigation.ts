// Which view the studio shows. Kept in the address (`#/settings`) so a reload keeps the view.
import { defineStore } from 'pinia';
import { ref } from 'vue';

export const VIEWS = [
  { id: 'generate', label: 'Generate' },
  { id: 'queue', label: 'Queue' },
  { id: 'gallery', label: 'Gallery' },
  { id: 'tune', label: 'Tune' },
  { id: 'models', label: 'Models' },
  { id: 'settings', label: 'Settings' },
] as const;

export type ViewId = (typeof VIEWS)[number]['id'];

export function viewFromHash(hash: string): ViewId {
  const id = hash.replace(/^#\/?/, '');
  return VIEWS.find((view) => view.id === id)?.id ?? 'generate';
}

export const useNavigationStore = defineStore('navigation', () => {
  const current = ref<ViewId>(viewFromHash(window.location.hash));
  window.addEventListener('hashchange', () => {
    current.value = viewFromHash(window.location.hash);
  });

  function go(id: ViewId): void {
    current.value = id;
    if (viewFromHash(window.location.hash) !== id || window.location.hash === '') window.location.hash = `#/${id}`;
  }

  return { views: VIEWS, current, go };
});
