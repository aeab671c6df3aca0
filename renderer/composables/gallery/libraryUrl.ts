// Absolute addresses of library images (../libraryUrls gives the relative ones): a drag out to
// another app needs the whole address, resolved against the page (studio://app/ in Electron,
// http://127.0.0.1:PORT/ in browser mode, both behind the page's origin and token).
import type { GalleryImage } from '@api';
import { imageFileUrl, thumbnailUrl } from '../libraryUrls';

export function thumbUrl(uid: string, base: string = document.baseURI): string {
  return new URL(thumbnailUrl(uid), base).href;
}

export function fileUrl(uid: string, base: string = document.baseURI): string {
  return new URL(imageFileUrl(uid), base).href;
}

const MIME: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', webp: 'image/webp' };

/** A file name people recognise when the image is dragged out (the prompt's start, then the uid). */
export function exportName(image: Pick<GalleryImage, 'uid' | 'file' | 'recipe'>): string {
  const ext = image.file.split('.').pop()?.toLowerCase() ?? 'png';
  const words = image.recipe.prompt.replace(/[^\p{L}\p{N}]+/gu, ' ').trim().split(' ').slice(0, 6).join('-').slice(0, 60);
  return `${words ? `${words}-` : ''}${image.uid.slice(0, 8)}.${ext}`;
}

/**
 * Fills a drag's data so other apps receive the image: Chromium's DownloadURL (the file is
 * fetched and saved where it is dropped), the address as a URI list and as text.
 */
export function setImageDragData(data: DataTransfer, image: Pick<GalleryImage, 'uid' | 'file' | 'recipe'>, base?: string): void {
  const url = fileUrl(image.uid, base);
  const ext = image.file.split('.').pop()?.toLowerCase() ?? 'png';
  data.effectAllowed = 'copy';
  data.setData('DownloadURL', `${MIME[ext] ?? 'application/octet-stream'}:${exportName(image)}:${url}`);
  data.setData('text/uri-list', url);
  data.setData('text/plain', url);
  // Marks the drag as ours, so dropping it back into the window does not import it again.
  data.setData(GALLERY_DRAG_TYPE, image.uid);
}

export const GALLERY_DRAG_TYPE = 'application/x-dimba-gallery-uid';
