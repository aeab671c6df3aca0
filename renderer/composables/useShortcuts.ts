// Keyboard shortcuts: the one list the shortcuts dialog shows, and a composable that binds a
// handler to the window while a component is mounted.
import { onBeforeUnmount, onMounted } from 'vue';

export interface ShortcutInfo {
  /** As people read it ("Ctrl/⌘ + Enter"). */
  keys: string;
  action: string;
  /** Where it works. */
  where: string;
}

export const SHORTCUTS: readonly ShortcutInfo[] = [
  { keys: 'Ctrl/⌘ + Enter', action: 'Generate', where: 'Generate' },
  { keys: 'Escape', action: 'Cancel the running job', where: 'Generate (outside a field)' },
  { keys: '/', action: 'Focus the prompt', where: 'Generate' },
  { keys: 'Alt + 1 … 6', action: 'Go to Generate, Queue, Gallery, Tune, Models, Settings', where: 'Anywhere' },
  { keys: '?', action: 'Show this list', where: 'Anywhere outside a text field' },
  { keys: 'Escape', action: 'Close a dialog', where: 'Dialogs' },
  { keys: 'Arrows, Page Up / Down, Home / End', action: 'Move between images', where: 'Gallery grid' },
  { keys: 'Enter', action: 'Open the image view', where: 'Gallery grid' },
  { keys: 'Delete', action: 'Move the image to the trash', where: 'Gallery grid' },
  { keys: 'F, 0 … 5', action: 'Toggle favourite, set the rating', where: 'Gallery grid' },
  { keys: 'Ctrl/⌘ + Z', action: 'Undo the last move to the trash', where: 'Gallery' },
  { keys: 'Escape', action: 'Close the image view', where: 'Gallery' },
];

/** True when the key goes to a text field (plain letters must not trigger shortcuts there). */
export function typingInField(event: KeyboardEvent): boolean {
  const target = event.target as HTMLElement | null;
  if (!target || typeof target.closest !== 'function') return false;
  return target.closest('input, textarea, select, [contenteditable="true"]') !== null;
}

export function isSubmitChord(event: KeyboardEvent): boolean {
  return event.key === 'Enter' && (event.ctrlKey || event.metaKey) && !event.altKey;
}

/** Calls `handler` for every keydown on the window while the calling component is mounted. */
export function useKeydown(handler: (event: KeyboardEvent) => void): void {
  onMounted(() => window.addEventListener('keydown', handler));
  onBeforeUnmount(() => window.removeEventListener('keydown', handler));
}
