// Files dragged into the window from elsewhere: shows that a drop will import (dragging) and
// hands the image files over on drop. Drags that start in the gallery itself (an image dragged
// out and back) and drags without files are left alone.
import { onBeforeUnmount, onMounted, ref } from 'vue';
import { GALLERY_DRAG_TYPE } from './libraryUrl';

const IMAGE_FILE = /\.(png|jpe?g|webp)$/i;

export function isImageFile(file: Pick<File, 'name' | 'type'>): boolean {
  return file.type.startsWith('image/') || IMAGE_FILE.test(file.name);
}

function carriesFiles(event: DragEvent): boolean {
  const types = event.dataTransfer?.types ?? [];
  return types.includes('Files') && !types.includes(GALLERY_DRAG_TYPE);
}

export function useFileDrop(onFiles: (files: File[], rejected: string[]) => void, target: () => EventTarget = () => window) {
  const dragging = ref(false);
  // dragenter/dragleave fire for every child crossed: count them.
  let depth = 0;

  const enter = (e: Event) => {
    const event = e as DragEvent;
    if (!carriesFiles(event)) return;
    event.preventDefault();
    depth++;
    dragging.value = true;
  };
  const over = (e: Event) => {
    const event = e as DragEvent;
    if (!carriesFiles(event)) return;
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
  };
  const leave = (e: Event) => {
    if (!carriesFiles(e as DragEvent)) return;
    depth = Math.max(0, depth - 1);
    if (depth === 0) dragging.value = false;
  };
  const drop = (e: Event) => {
    const event = e as DragEvent;
    depth = 0;
    dragging.value = false;
    if (!carriesFiles(event)) return;
    event.preventDefault();
    const files = Array.from(event.dataTransfer?.files ?? []);
    onFiles(
      files.filter(isImageFile),
      files.filter((f) => !isImageFile(f)).map((f) => f.name),
    );
  };

  const events: [string, (e: Event) => void][] = [
    ['dragenter', enter],
    ['dragover', over],
    ['dragleave', leave],
    ['drop', drop],
  ];
  onMounted(() => {
    for (const [name, fn] of events) target().addEventListener(name, fn);
  });
  onBeforeUnmount(() => {
    for (const [name, fn] of events) target().removeEventListener(name, fn);
  });
  return { dragging };
}
