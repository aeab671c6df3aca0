// Bytes of a file the renderer holds (a dropped image) arriving in parts: browser mode's
// WebSocket takes messages up to 1 MiB, so a file travels as numbered base64 parts and is
// imported whole. Bounded: parts in order, a size cap per upload, a few uploads at a time, and
// uploads left unfinished are dropped after a while.
import { UPLOAD_MAX_BYTES, UPLOAD_PART_BYTES } from '../../api/gallery.js';
import { GalleryError } from './records.js';

const MAX_UPLOADS = 8;
const STALE_MS = 2 * 60_000;

interface Upload {
  parts: Buffer[];
  bytes: number;
  touched: number;
}

export interface Uploads {
  /** Appends part `index` (0, 1, 2, ... in order); returns the bytes received so far. */
  append(id: string, index: number, base64: string): number;
  /** The whole file, and the upload is forgotten. */
  take(id: string): Buffer;
}

export function createUploads(now: () => number = Date.now): Uploads {
  const uploads = new Map<string, Upload>();
  const dropStale = () => {
    for (const [id, u] of uploads) if (now() - u.touched > STALE_MS) uploads.delete(id);
  };
  return {
    append(id, index, base64) {
      dropStale();
      let upload = uploads.get(id);
      if (!upload) {
        if (index !== 0) throw new GalleryError('INVALID_INPUT', `upload ${id} is unknown (expired or never started)`);
        if (uploads.size >= MAX_UPLOADS) throw new GalleryError('CONFLICT', `at most ${MAX_UPLOADS} uploads at a time`);
        upload = { parts: [], bytes: 0, touched: now() };
        uploads.set(id, upload);
      }
      if (index !== upload.parts.length) throw new GalleryError('INVALID_INPUT', `upload ${id} expected part ${upload.parts.length}, got ${index}`);
      const part = Buffer.from(base64, 'base64');
      if (part.byteLength > UPLOAD_PART_BYTES) throw new GalleryError('INVALID_INPUT', `a part is at most ${UPLOAD_PART_BYTES} bytes`);
      if (upload.bytes + part.byteLength > UPLOAD_MAX_BYTES) {
        uploads.delete(id);
        throw new GalleryError('INVALID_INPUT', `an upload is at most ${UPLOAD_MAX_BYTES / 2 ** 20} MiB`);
      }
      upload.parts.push(part);
      upload.bytes += part.byteLength;
      upload.touched = now();
      return upload.bytes;
    },
    take(id) {
      const upload = uploads.get(id);
      if (!upload) throw new GalleryError('INVALID_INPUT', `upload ${id} is unknown (expired or never started)`);
      uploads.delete(id);
      return Buffer.concat(upload.parts, upload.bytes);
    },
  };
}
