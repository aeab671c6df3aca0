// Applies the theme setting to the window: `system` follows the OS (and its later changes),
// `light` / `dark` pin it. The resolved scheme goes on <html> as a class and `color-scheme`,
// so the CSS variables and the browser's own controls (scrollbars, inputs) agree.
import { onBeforeUnmount, ref, watchEffect, type Ref } from 'vue';
import type { Settings } from '@api';

export type ResolvedTheme = 'light' | 'dark';

export function resolveTheme(setting: Settings['theme'], osPrefersDark: boolean): ResolvedTheme {
  if (setting === 'system') return osPrefersDark ? 'dark' : 'light';
  return setting;
}

export function useTheme(setting: Ref<Settings['theme'] | undefined>): Ref<ResolvedTheme> {
  const query = typeof window.matchMedia === 'function' ? window.matchMedia('(prefers-color-scheme: dark)') : null;
  const osPrefersDark = ref(query?.matches ?? true);
  const follow = (event: MediaQueryListEvent): void => {
    osPrefersDark.value = event.matches;
  };
  query?.addEventListener('change', follow);
  onBeforeUnmount(() => query?.removeEventListener('change', follow));

  const resolved = ref<ResolvedTheme>('dark');
  watchEffect(() => {
    const chosen = setting.value ?? 'system';
    resolved.value = resolveTheme(chosen, osPrefersDark.value);
    const root = document.documentElement;
    root.dataset.theme = chosen;
    root.classList.toggle('theme-dark', resolved.value === 'dark');
    root.classList.toggle('theme-light', resolved.value === 'light');
    root.style.colorScheme = resolved.value;
  });
  return resolved;
}
