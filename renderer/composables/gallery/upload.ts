// A file the renderer holds (dropped or picked) sent to the gallery in parts: the WebSocket of
// browser mode takes messages up to 1 MiB, so bytes travel as base64 parts of 512 KiB.
import { UPLOAD_MAX_BYTES, UPLOAD_PART_BYTES, type ImportResult } from '@api';
import type { StudioClient } from '../../api/client';

function randomUploadId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Base64 of some bytes (btoa takes a binary string; built in slices to bound the arguments). */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export async function uploadFile(client: Pick<StudioClient, 'call'>, file: Blob): Promise<ImportResult> {
  if (file.size > UPLOAD_MAX_BYTES) throw new Error(`larger than ${UPLOAD_MAX_BYTES / 2 ** 20} MiB`);
  const upload = randomUploadId();
  const bytes = new Uint8Array(await file.arrayBuffer());
  let index = 0;
  // An empty file still sends one (empty) part, so the import can answer "not an image".
  for (let at = 0; at < bytes.length || index === 0; at += UPLOAD_PART_BYTES) {
    await client.call('gallery.uploadPart', { upload, index, data: toBase64(bytes.subarray(at, at + UPLOAD_PART_BYTES)) });
    index++;
  }
  return client.call('gallery.importUpload', { upload });
}
