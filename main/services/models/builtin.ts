// The built-in model (issue 8): a small pixel-space Dimba the project trains itself, shipped in
// assets/builtin so the studio makes images on a fresh install. It is part of the app, not of
// the models folder: never registered, downloaded or removed. models.list shows it first with
// kind 'builtin' (id BUILTIN_MODEL_ID); a job whose `model` is that id runs its manifest.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { BUILTIN_MODEL_ID, type Model, type ModelFile } from '../../api/models.js';

export const BUILTIN_MANIFEST_NAME = 'builtin.manifest.json';

/** Every file the engine reads, relative to the folder (the manifest first). */
const BUILTIN_FILES = [BUILTIN_MANIFEST_NAME, 'dimba.json', 'dimba.safetensors', 'spiece.model', 't5/config.json', 't5/model.safetensors'];

function readJsonObject(file: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * The built-in model as models.list shows it, or null when `folder` holds no readable manifest
 * with the built-in id (a build that left it out). A file gone since shows as status 'missing'.
 */
export function builtinModel(folder: string): Model | null {
  const manifestPath = path.join(folder, BUILTIN_MANIFEST_NAME);
  const manifest = readJsonObject(manifestPath);
  if (!manifest || manifest.id !== BUILTIN_MODEL_ID) return null;
  const files: ModelFile[] = [];
  let missing = false;
  for (const rel of BUILTIN_FILES) {
    try {
      const s = statSync(path.join(folder, rel));
      if (!s.isFile()) throw new Error('not a file');
      files.push({ path: path.join(folder, rel), bytes: s.size, sha256: null });
    } catch {
      missing = true;
    }
  }
  return {
    id: BUILTIN_MODEL_ID,
    name: typeof manifest.name === 'string' ? manifest.name : BUILTIN_MODEL_ID,
    kind: 'builtin',
    status: missing ? 'missing' : 'ready',
    source: { type: 'builtin' },
    files,
    totalBytes: files.reduce((sum, f) => sum + f.bytes, 0),
    config: readJsonObject(path.join(folder, 'dimba.json')),
    validation: null,
    addedAt: statSync(manifestPath).mtime.toISOString(),
  };
}

/** The manifest a job with the built-in id runs. */
export function builtinManifestPath(folder: string): string {
  return path.join(folder, BUILTIN_MANIFEST_NAME);
}
