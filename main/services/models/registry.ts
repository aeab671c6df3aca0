// The registry of models: one folder per model in the models folder, holding `model.json`
// (kind, architecture config, files with sizes and hashes, source, validation). Local models
// stay where the user keeps them (their manifest lists absolute paths: nothing is copied);
// downloaded models live inside their folder. Dot-folders (.staging) are never models, which
// is what makes downloads atomic: a model appears only when its folder is renamed into place.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ApiError } from '../../api/errors.js';
import { MODEL_ID_PATTERN, modelSchema, type Model, type ModelFile, type ModelKind, type Validation } from '../../api/models.js';
import type { HashCache } from './hash.js';
import type { Inspector } from './inspect.js';
import { pipelineSummary } from './pipeline.js';

export const MANIFEST_NAME = 'model.json';

export interface ModelRegistryOptions {
  folder: string;
  inspector: Inspector;
  hashes: HashCache;
  /** Called after every change with the whole list. */
  onChange?: (models: Model[]) => void;
  log?: (message: string) => void;
}

/** The reference release's layout: ckpts/dimba-l-512.pt, ckpts/t5-v1_1-xxl/, ckpts/vae/. */
export const RELEASE_LAYOUT: readonly { file: string; name: string; kind: 'dimba' | 't5' | 'vae' }[] = [
  { file: 'dimba-l-512.pt', name: 'Dimba-L 512', kind: 'dimba' },
  // The same checkpoint converted for mmap loading.
  { file: 'dimba-l-512.safetensors', name: 'Dimba-L 512', kind: 'dimba' },
  { file: 't5-v1_1-xxl', name: 'T5-v1.1-XXL', kind: 't5' },
  { file: 'vae', name: 'VAE', kind: 'vae' },
];

const ID_PATTERN = MODEL_ID_PATTERN;

function slug(name: string): string {
  const s = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60);
  return `${s || 'model'}-${randomBytes(3).toString('hex')}`;
}

/** Writes JSON so that a crash leaves the old file or the new one, never half of one. */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(tmp, file);
}

/** The config JSON that describes a checkpoint: `<stem>.json` beside a file, or a folder's config.json. */
export function findConfig(target: string, isFolder: boolean): string | undefined {
  const candidates = isFolder
    ? [path.join(target, 'config.json')]
    : [target.replace(/\.(safetensors|pt|pth|bin|ckpt)$/, '.json'), target.replace(/\.weights\.safetensors$/, '.json'), path.join(path.dirname(target), 'config.json')];
  return candidates.find((c) => c !== target && existsSync(c));
}

async function readConfig(file: string | undefined): Promise<Record<string, unknown> | null> {
  if (!file) return null;
  try {
    const value: unknown = JSON.parse(await readFile(file, 'utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

async function listWeightFiles(target: string): Promise<string[]> {
  const s = await stat(target);
  if (s.isFile()) return [target];
  const names = await readdir(target);
  // Everything a loader reads: weights, index files, configs, the tokenizer.
  return names
    .filter((n) => /\.(safetensors|pt|pth|bin|ckpt|json|model)$/.test(n) && n !== MANIFEST_NAME)
    .sort()
    .map((n) => path.join(target, n));
}

export class ModelRegistry {
  private readonly hashing = new Map<string, Promise<void>>();
  /** Each model's last manifest update; the next one waits for it (see `update`). */
  private readonly updates = new Map<string, Promise<unknown>>();

  constructor(private readonly options: ModelRegistryOptions) {}

  get folder(): string {
    return this.options.folder;
  }

  /** Every registered model, with its status checked against the files on disk now. */
  async list(): Promise<Model[]> {
    let names: string[];
    try {
      names = await readdir(this.options.folder);
    } catch {
      return [];
    }
    const models: Model[] = [];
    for (const name of names.sort()) {
      if (name.startsWith('.')) continue;
      const model = await this.read(name);
      if (model) models.push(await this.withStatus(model));
    }
    // Dimba models show the T5 and VAE they would generate with (or what is missing).
    return models.map((m) => (m.kind === 'dimba' ? { ...m, pipeline: pipelineSummary(m, models, this.options.folder) } : m));
  }

  async get(id: string): Promise<Model | null> {
    if (!ID_PATTERN.test(id)) return null;
    const model = await this.read(id);
    return model ? this.withStatus(model) : null;
  }

  /** Validation of a file or folder, without registering it. */
  async validate(target: string): Promise<Validation> {
    const resolved = path.resolve(target);
    let isFolder = false;
    try {
      isFolder = (await stat(resolved)).isDirectory();
    } catch (error) {
      throw new ApiError('NOT_FOUND', `${resolved} does not exist (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`);
    }
    const config = findConfig(resolved, isFolder);
    return this.options.inspector.inspect(resolved, config ? { config } : {});
  }

  /**
   * Registers a checkpoint file, a model folder, or a release layout (a folder holding
   * ckpts/, or ckpts/ itself): one model per part found. A path registered before returns
   * the existing model. Throws MODEL_INVALID when the files are not a model the engine knows.
   */
  async register(target: string, name?: string, kind?: Exclude<ModelKind, 'builtin'>): Promise<Model[]> {
    const resolved = path.resolve(target);
    const release = this.releaseParts(resolved);
    if (release.length > 0) {
      const out: Model[] = [];
      for (const part of release) out.push(...(await this.register(part.path, part.name, part.kind)));
      return out;
    }
    const existing = (await this.list()).find((m) => m.source.type === 'local' && m.source.path === resolved);
    if (existing) return [existing];
    let validation = await this.validate(resolved);
    // Files the checker could not read at all (PyTorch files, headers-only checking) take the
    // kind the caller or the release layout names; the engine checks them when it loads.
    if (validation.architecture === 'unknown' && kind && validation.problems.length === 0 && validation.unchecked.length > 0) {
      validation = { ...validation, architecture: kind, ok: true };
    }
    if (validation.architecture === 'unknown') {
      throw new ApiError('MODEL_INVALID', `${resolved} is not a Dimba, T5 or VAE checkpoint: ${validation.problems.join('; ') || 'no known tensor names'}`);
    }
    const isFolder = (await stat(resolved)).isDirectory();
    const files = [];
    for (const file of await listWeightFiles(resolved)) files.push({ path: file, bytes: (await stat(file)).size, sha256: null });
    const model: Model = {
      id: slug(name ?? path.basename(resolved)),
      name: name ?? path.basename(resolved).replace(/\.(safetensors|pt|pth|bin|ckpt)$/, ''),
      kind: validation.architecture as ModelKind,
      status: validation.ok ? 'ready' : 'invalid',
      source: { type: 'local', path: resolved },
      files,
      totalBytes: files.reduce((a, f) => a + f.bytes, 0),
      config: await readConfig(findConfig(resolved, isFolder)),
      validation,
      addedAt: new Date().toISOString(),
    };
    await this.write(model);
    this.hashInBackground(model.id);
    await this.changed();
    return [model];
  }

  /** Writes a model folder's manifest (downloads call this on their staging folder). */
  async writeManifest(folder: string, model: Model): Promise<void> {
    await writeJsonAtomic(path.join(folder, MANIFEST_NAME), modelSchema.parse(model));
  }

  /**
   * Points a model at weights converted into its folder (`file.path` relative to it) in place
   * of `from`, validates them, and hashes them in the background.
   */
  async useConvertedWeights(id: string, from: string, file: ModelFile): Promise<Model> {
    if (!(await this.read(id))) throw new ApiError('NOT_FOUND', `no registered model ${id}`);
    // Checked against the config found beside the original, as at registration.
    const config = findConfig(from, false);
    const validation = await this.options.inspector.inspect(path.join(this.options.folder, id, file.path), config ? { config } : {});
    // Entries are absolute (local models) or relative to the model's folder (downloads).
    const base = path.join(this.options.folder, id);
    const isFrom = (f: ModelFile) => path.resolve(base, f.path) === path.resolve(from);
    const updated = await this.update(id, (model) => ({
      ...model,
      files: [...model.files.filter((f) => !isFrom(f)), file],
      totalBytes: model.totalBytes - (model.files.find(isFrom)?.bytes ?? 0) + file.bytes,
      validation,
    }));
    if (!updated) throw new ApiError('NOT_FOUND', `no registered model ${id}`);
    this.hashInBackground(id);
    await this.changed();
    return updated;
  }

  async remove(id: string): Promise<boolean> {
    const model = await this.get(id);
    if (!model) return false;
    // A local model's files belong to the user; only our folder (the manifest) goes.
    await rm(path.join(this.options.folder, id), { recursive: true, force: true });
    await this.changed();
    return true;
  }

  /** Emits the current list (after a download moved a model into place). */
  async changed(): Promise<void> {
    if (this.options.onChange) this.options.onChange(await this.list());
  }

  /**
   * Hashes a model's unhashed files off the main thread and records them; large files take a
   * while. A call while a pass runs queues one more pass after it, so files that arrive
   * meanwhile (a conversion's output) are hashed too.
   */
  hashInBackground(id: string): Promise<void> {
    const previous = this.hashing.get(id) ?? Promise.resolve();
    const task: Promise<void> = previous
      .then(() => this.hashPass(id))
      .catch((error: unknown) => this.options.log?.(`models: hashing ${id} failed: ${(error as Error).message}`))
      .finally(() => {
        if (this.hashing.get(id) === task) this.hashing.delete(id);
      });
    this.hashing.set(id, task);
    return task;
  }

  private async hashPass(id: string): Promise<void> {
    const model = await this.read(id);
    if (!model) return;
    const base = path.join(this.options.folder, id);
    const found = new Map<string, string>();
    for (const f of model.files) {
      if (f.sha256 === null) found.set(f.path, await this.options.hashes.sha256(path.resolve(base, f.path)));
    }
    // Only the hashes are this pass's to write: the file list may have changed while it hashed
    // (a conversion replacing the .pt), and writing back the list it read would undo that.
    const updated = await this.update(id, (current) => ({
      ...current,
      files: current.files.map((f) => ({ ...f, sha256: f.sha256 ?? found.get(f.path) ?? null })),
    }));
    if (updated) await this.changed(); // else removed meanwhile
  }

  /**
   * Reads a model's manifest, changes it and writes it back, one update at a time per model:
   * two that overlapped (a hash pass finishing while a conversion repoints the model) would each
   * write back the manifest they read, and the later one would undo the other. Null when the
   * model is gone.
   */
  private update(id: string, change: (model: Model) => Model): Promise<Model | null> {
    const run = async (): Promise<Model | null> => {
      const model = await this.read(id);
      if (!model) return null;
      const next = change(model);
      await this.write(next);
      return next;
    };
    const task = (this.updates.get(id) ?? Promise.resolve()).then(run);
    const settled = task.catch(() => undefined);
    this.updates.set(id, settled);
    void settled.then(() => {
      if (this.updates.get(id) === settled) this.updates.delete(id);
    });
    return task;
  }

  private releaseParts(resolved: string): { path: string; name: string; kind: 'dimba' | 't5' | 'vae' }[] {
    const ckpts = existsSync(path.join(resolved, 'ckpts')) ? path.join(resolved, 'ckpts') : path.basename(resolved) === 'ckpts' ? resolved : null;
    if (!ckpts) return [];
    return RELEASE_LAYOUT.filter((p) => existsSync(path.join(ckpts, p.file))).map((p) => ({ path: path.join(ckpts, p.file), name: p.name, kind: p.kind }));
  }

  private async read(id: string): Promise<Model | null> {
    try {
      const value: unknown = JSON.parse(await readFile(path.join(this.options.folder, id, MANIFEST_NAME), 'utf8'));
      const parsed = modelSchema.safeParse(value);
      if (!parsed.success) {
        this.options.log?.(`models: ${id}/${MANIFEST_NAME} is not a valid manifest; ignored`);
        return null;
      }
      return parsed.data.id === id ? parsed.data : null;
    } catch {
      return null;
    }
  }

  private async write(model: Model): Promise<void> {
    const folder = path.join(this.options.folder, model.id);
    await mkdir(folder, { recursive: true });
    await this.writeManifest(folder, model);
  }

  private async withStatus(model: Model): Promise<Model> {
    if (model.validation && !model.validation.ok) return { ...model, status: 'invalid' };
    const base = path.join(this.options.folder, model.id);
    for (const f of model.files) {
      try {
        if ((await stat(path.resolve(base, f.path))).size !== f.bytes) return { ...model, status: 'missing' };
      } catch {
        return { ...model, status: 'missing' };
      }
    }
    return { ...model, status: 'ready' };
  }
}
