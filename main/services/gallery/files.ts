// The gallery's bytes: image files and cached thumbnails inside the library folder. Writes are
// atomic (temporary file in the library's tmp/, fsync, rename, fsync of the folder), so a crash
// leaves either no file or the whole file under its final name, never a torn one.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { GalleryError } from './records.js';

export const IMAGES_DIR = 'images';
export const THUMBS_DIR = 'thumbs';
export const TMP_DIR = 'tmp';
/** Files found in images/ that are not images: moved here by the sweep, never deleted. */
export const QUARANTINE_DIR = 'quarantine';
export const THUMBNAIL_SIZE = 256;

/**
 * The absolute path of `relative` inside `root`, or PATH_OUTSIDE_LIBRARY: no absolute paths, no
 * '..' segments, no NUL, and (for paths that exist) no symlink leading out of the folder.
 */
export function resolveInside(root: string, relative: string): string {
  if (typeof relative !== 'string' || relative.length === 0 || relative.length > 1024 || relative.includes('\0')) {
    throw new GalleryError('PATH_OUTSIDE_LIBRARY', 'not a library path');
  }
  const parts = relative.split(/[\\/]/);
  if (path.isAbsolute(relative) || /^[a-zA-Z]:/.test(relative) || parts.some((p) => p === '..' || p === '')) {
    throw new GalleryError('PATH_OUTSIDE_LIBRARY', `path ${JSON.stringify(relative.slice(0, 100))} is not inside the library`);
  }
  const full = path.join(root, ...parts);
  let real: string;
  try {
    real = fs.realpathSync(full);
  } catch {
    return full; // does not exist (yet): the lexical check above is what confines it
  }
  const realRoot = fs.realpathSync(root);
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) {
    throw new GalleryError('PATH_OUTSIDE_LIBRARY', `path ${JSON.stringify(relative.slice(0, 100))} leads outside the library`);
  }
  return full;
}

function fsyncFolder(folder: string): void {
  // Makes the rename itself durable. Some platforms (Windows) cannot open folders: skip there.
  let fd: number | undefined;
  try {
    fd = fs.openSync(folder, 'r');
    fs.fsyncSync(fd);
  } catch {
    /* best effort */
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export interface ImageFiles {
  root: string;
  /** Writes `bytes` atomically at `relative` (folders made as needed). */
  write(relative: string, bytes: Uint8Array): Promise<void>;
  read(relative: string): Promise<Buffer>;
  remove(relative: string): Promise<void>;
  exists(relative: string): boolean;
  /** The cached WebP thumbnail of an image file, made once on first ask. */
  thumbnail(uid: string, relative: string): Promise<string>;
  removeThumbnail(uid: string): Promise<void>;
  /** Every file under images/, as '/'-separated paths relative to the root. */
  listImageFiles(): string[];
  listThumbnails(): string[];
  clearTemp(): number;
  quarantine(relative: string): Promise<string>;
  /** Called between the fsync and the rename; the crash test kills the process there. */
  beforeRename?: () => void;
}

export function createImageFiles(root: string): ImageFiles {
  const making = new Map<string, Promise<string>>();

  const writeAtomic = async (target: string, bytes: Uint8Array, files: ImageFiles): Promise<void> => {
    const tmpFolder = path.join(root, TMP_DIR);
    fs.mkdirSync(tmpFolder, { recursive: true });
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const tmp = path.join(tmpFolder, `${randomBytes(8).toString('hex')}.part`);
    const handle = await fs.promises.open(tmp, 'wx');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      files.beforeRename?.();
      // Targets are named by a fresh random uid, so the rename never replaces another image.
      await fs.promises.rename(tmp, target);
    } catch (error) {
      await fs.promises.rm(tmp, { force: true });
      throw error;
    }
    fsyncFolder(path.dirname(target));
  };

  const walk = (folder: string, prefix: string, out: string[]) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(folder, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const rel = `${prefix}/${e.name}`;
      if (e.isDirectory()) walk(path.join(folder, e.name), rel, out);
      else out.push(rel);
    }
  };

  const files: ImageFiles = {
    root,
    write: (relative, bytes) => writeAtomic(resolveInside(root, relative), bytes, files),
    read: (relative) => fs.promises.readFile(resolveInside(root, relative)),
    remove: (relative) => fs.promises.rm(resolveInside(root, relative), { force: true }),
    exists: (relative) => fs.existsSync(resolveInside(root, relative)),
    thumbnail(uid, relative) {
      const thumb = resolveInside(root, `${THUMBS_DIR}/${uid}.webp`);
      if (fs.existsSync(thumb)) return Promise.resolve(thumb);
      let pending = making.get(uid);
      if (!pending) {
        pending = (async () => {
          const source = resolveInside(root, relative);
          const webp = await sharp(source, { limitInputPixels: 16384 * 16384 })
            .rotate()
            .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true })
            .webp({ quality: 80 })
            .toBuffer();
          await writeAtomic(thumb, webp, files);
          return thumb;
        })().finally(() => making.delete(uid));
        making.set(uid, pending);
      }
      return pending;
    },
    removeThumbnail: (uid) => fs.promises.rm(resolveInside(root, `${THUMBS_DIR}/${uid}.webp`), { force: true }),
    listImageFiles() {
      const out: string[] = [];
      walk(path.join(root, IMAGES_DIR), IMAGES_DIR, out);
      return out;
    },
    listThumbnails() {
      const out: string[] = [];
      walk(path.join(root, THUMBS_DIR), THUMBS_DIR, out);
      return out;
    },
    clearTemp() {
      const folder = path.join(root, TMP_DIR);
      let n = 0;
      for (const name of fs.existsSync(folder) ? fs.readdirSync(folder) : []) {
        fs.rmSync(path.join(folder, name), { force: true, recursive: true });
        n++;
      }
      return n;
    },
    async quarantine(relative) {
      const from = resolveInside(root, relative);
      const to = path.join(root, QUARANTINE_DIR, `${Date.now()}-${path.basename(from)}`);
      fs.mkdirSync(path.dirname(to), { recursive: true });
      await fs.promises.rename(from, to);
      return path.relative(root, to).split(path.sep).join('/');
    },
  };
  return files;
}
