// The engine manifest a tuning run loads, and the model's resolution. The built-in model's own
// manifest (format dimba-builtin-manifest, which also records its training recipe) is
// rewritten as a plain dimba-model-manifest with absolute paths in the run's folder; any other
// manifest is used as it is.
import { promises as fs } from 'node:fs';
import path from 'node:path';

export interface TuningModel {
  manifest: string;
  resolution: number;
}

export async function engineManifestFor(manifestPath: string, runFolder: string): Promise<TuningModel> {
  const json = JSON.parse(await fs.readFile(manifestPath, 'utf8')) as Record<string, unknown>;
  const resolution = typeof json.resolution === 'number' ? json.resolution : 512;
  if (json.format !== 'dimba-builtin-manifest') return { manifest: manifestPath, resolution };
  const dir = path.dirname(manifestPath);
  const abs = (p: unknown): string => path.resolve(dir, String(p));
  const dimba = json.dimba as Record<string, unknown>;
  const text = json.text_encoder as Record<string, unknown>;
  const plain = {
    format: 'dimba-model-manifest',
    version: 1,
    id: json.id,
    name: json.name,
    resolution,
    dimba: { config: abs(dimba.config), weights: abs(dimba.weights) },
    text_encoder: { folder: abs(text.folder), tokenizer: abs(text.tokenizer) },
    vae: null,
    defaults: json.defaults,
  };
  await fs.mkdir(runFolder, { recursive: true });
  const out = path.join(runFolder, 'model.json');
  await fs.writeFile(out, JSON.stringify(plain, null, 2));
  return { manifest: out, resolution };
}
