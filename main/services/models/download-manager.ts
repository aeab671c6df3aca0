// Downloads whole catalogue entries into the registry. Files arrive in
// `<models>/.staging/<id>/` (dot-folders are never listed as models); when every file is
// complete and verified, the manifest is written there and the folder is renamed to
// `<models>/<id>` in one step, so a model is either fully there or not there at all. A failed
// or cancelled download keeps its staging folder: valid `.part` prefixes resume next time.
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { sha256File } from './hash.js';
import path from 'node:path';
import { ApiError } from '../../api/errors.js';
import type { CatalogueEntry, Download, Model } from '../../api/models.js';
import { DownloadError, downloadFile, statfsProbe, type FreeSpaceProbe } from './download.js';
import type { ModelRegistry } from './registry.js';

export interface DownloadManagerOptions {
  registry: ModelRegistry;
  /** Read at each use, so entries a user adds appear without a restart. */
  catalogue: () => readonly CatalogueEntry[];
  onProgress?: (download: Download) => void;
  freeSpace?: FreeSpaceProbe;
  retryDelayMs?: number;
  progressIntervalMs?: number;
}

interface Running {
  state: Download;
  controller: AbortController;
  done: Promise<void>;
}

export class DownloadManager {
  private readonly downloads = new Map<string, Running>();

  constructor(private readonly options: DownloadManagerOptions) {}

  catalogue(): CatalogueEntry[] {
    return [...this.options.catalogue()];
  }

  list(): Download[] {
    return [...this.downloads.values()].map((d) => ({ ...d.state }));
  }

  /** Starts or resumes an entry's download; a running one is returned as it is. */
  start(catalogueId: string): Download {
    const entry = this.options.catalogue().find((e) => e.id === catalogueId);
    if (!entry) throw new ApiError('NOT_FOUND', `no catalogue entry ${catalogueId}`);
    const running = this.downloads.get(catalogueId);
    if (running && (running.state.state === 'running' || running.state.state === 'verifying')) return { ...running.state };
    const state: Download = {
      catalogueId,
      state: 'running',
      file: null,
      receivedBytes: 0,
      totalBytes: entry.files.every((f) => f.bytes !== null) ? entry.files.reduce((a, f) => a + (f.bytes ?? 0), 0) : null,
      bytesPerSecond: 0,
      etaSeconds: null,
      error: null,
    };
    const controller = new AbortController();
    const record: Running = { state, controller, done: Promise.resolve() };
    record.done = this.run(entry, record).catch(() => undefined);
    this.downloads.set(catalogueId, record);
    return { ...state };
  }

  cancel(catalogueId: string): boolean {
    const running = this.downloads.get(catalogueId);
    if (!running || running.state.state !== 'running') return false;
    running.controller.abort();
    return true;
  }

  /** Resolves when the entry's current download has settled (tests, shutdown). */
  async settled(catalogueId: string): Promise<Download | null> {
    const running = this.downloads.get(catalogueId);
    if (!running) return null;
    await running.done;
    return { ...running.state };
  }

  private emit(record: Running): void {
    this.options.onProgress?.({ ...record.state });
  }

  private async run(entry: CatalogueEntry, record: Running): Promise<void> {
    const { registry } = this.options;
    const state = record.state;
    const staging = path.join(registry.folder, '.staging', entry.id);
    const target = path.join(registry.folder, entry.id);
    try {
      if (await exists(target)) throw new DownloadError('E_IO', `${entry.name} is already downloaded (${target})`);
      await mkdir(staging, { recursive: true });
      // The whole entry must fit before its first byte (each file is checked again as it starts).
      if (state.totalBytes !== null) {
        const { freeBytes } = await (this.options.freeSpace ?? statfsProbe)(staging);
        if (freeBytes < state.totalBytes) {
          throw new DownloadError('E_NO_SPACE', `${entry.name} needs ${state.totalBytes} bytes; ${freeBytes} are free`);
        }
      }
      const files: Model['files'] = [];
      let before = 0;
      for (const f of entry.files) {
        state.file = f.path;
        this.emit(record);
        const dest = path.join(staging, f.path);
        // A file completed by an earlier, interrupted run of this entry is kept if it still verifies.
        const earlier = await completed(dest, f.sha256, f.bytes);
        const got = earlier ?? await downloadFile({
          url: f.url,
          dest,
          sha256: f.sha256,
          size: f.bytes,
          signal: record.controller.signal,
          freeSpace: this.options.freeSpace,
          retryDelayMs: this.options.retryDelayMs,
          progressIntervalMs: this.options.progressIntervalMs,
          onProgress: (p) => {
            state.receivedBytes = before + p.receivedBytes;
            state.bytesPerSecond = p.bytesPerSecond;
            const total = state.totalBytes;
            state.etaSeconds = total !== null && p.bytesPerSecond > 0 ? Math.max(0, total - state.receivedBytes) / p.bytesPerSecond : p.etaSeconds;
            this.emit(record);
          },
        });
        before += got.bytes;
        state.receivedBytes = before;
        files.push({ path: f.path, bytes: got.bytes, sha256: got.sha256 });
      }
      state.state = 'verifying';
      state.file = null;
      this.emit(record);
      const validation = await registry.validate(staging);
      const model: Model = {
        id: entry.id,
        name: entry.name,
        kind: entry.kind,
        status: validation.ok ? 'ready' : 'invalid',
        source: { type: 'download', catalogueId: entry.id, urls: entry.files.map((f) => f.url) },
        files,
        totalBytes: before,
        config: null,
        validation,
        addedAt: new Date().toISOString(),
      };
      await registry.writeManifest(staging, model);
      // The one step that makes the model appear.
      await rename(staging, target);
      state.state = 'done';
      this.emit(record);
      await registry.changed();
    } catch (error) {
      const e = error instanceof DownloadError ? error : new DownloadError('E_IO', error instanceof Error ? error.message : String(error));
      state.state = e.code === 'E_CANCELLED' ? 'cancelled' : 'failed';
      state.error = { code: e.code, message: e.message };
      state.bytesPerSecond = 0;
      state.etaSeconds = null;
      this.emit(record);
    }
  }
}

async function completed(dest: string, sha256: string | null, bytes: number | null): Promise<{ bytes: number; sha256: string } | null> {
  if (!(await exists(dest))) return null;
  const got = await sha256File(dest);
  if ((sha256 === null || got.sha256 === sha256) && (bytes === null || got.bytes === bytes)) return got;
  await rm(dest, { force: true });
  return null;
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
