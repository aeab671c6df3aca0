// A registered Dimba model becomes a runnable text-to-image model by pairing it with a registered
// T5 text encoder and VAE and writing an engine manifest (native/src/pipeline/manifest.h) for the
// three. Parts are chosen among ready models: those registered from the same folder first (the
// reference release's ckpts/ holds all three), then the most recently added. The manifest file is
// named by its content's hash, so a changed choice is a new path and the engine host, which keys
// its loaded model by path, loads the new parts instead of reusing the old ones.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { ApiError } from '../../api/errors.js';
import type { Model, ModelPipeline } from '../../api/models.js';
import { writeJsonAtomic } from './registry.js';

const WEIGHTS = /\.(safetensors|pt|pth|bin|ckpt)$/;
/** Resolutions the reference Dimba checkpoints were trained at (MODEL.md 2). */
const RESOLUTIONS = [256, 512, 1024, 2048];
const MANIFEST_PATTERN = /^pipeline-[0-9a-f]{12}\.manifest\.json$/;

/**
 * The file or folder a model's weights are at: for a Dimba model, a weight file inside its
 * registry folder (a download, or a conversion; safetensors first) before its own path; a
 * local T5 or VAE folder as registered; a downloaded one's folder.
 */
export function modelLocation(model: Model, modelsFolder: string): string {
  const folder = path.join(modelsFolder, model.id);
  if (model.kind === 'dimba') {
    const inFolder = model.files.filter((f) => !path.isAbsolute(f.path) && WEIGHTS.test(f.path)).sort((a, b) => Number(b.path.endsWith('.safetensors')) - Number(a.path.endsWith('.safetensors')))[0];
    if (inFolder) return path.resolve(folder, inFolder.path);
  }
  return model.source.type === 'local' ? model.source.path : folder;
}

function siblingOf(a: Model, b: Model): boolean {
  return a.source.type === 'local' && b.source.type === 'local' && path.dirname(a.source.path) === path.dirname(b.source.path);
}

function choosePart(dimba: Model, all: readonly Model[], kind: 't5' | 'vae'): Model | null {
  const ready = all.filter((m) => m.kind === kind && m.status === 'ready');
  return ready.find((m) => siblingOf(dimba, m)) ?? [...ready].sort((a, b) => b.addedAt.localeCompare(a.addedAt))[0] ?? null;
}

export interface PipelineParts {
  textEncoder: Model | null;
  vae: Model | null;
  /** Why it cannot run, in words; null when it can. */
  problem: string | null;
}

export function pipelineParts(dimba: Model, all: readonly Model[], modelsFolder: string): PipelineParts {
  const textEncoder = choosePart(dimba, all, 't5');
  const vae = choosePart(dimba, all, 'vae');
  const missing: string[] = [];
  if (dimba.status !== 'ready') missing.push(`${dimba.name} itself is ${dimba.status}`);
  if (!textEncoder) missing.push('a T5 text encoder (register a T5 folder such as ckpts/t5-v1_1-xxl, or download one)');
  else if (!existsSync(path.join(modelLocation(textEncoder, modelsFolder), 'spiece.model'))) {
    missing.push(`the tokenizer: ${textEncoder.name} has no spiece.model in its folder`);
  }
  if (!vae) missing.push('a VAE (register a VAE folder such as ckpts/vae, or download one)');
  return { textEncoder, vae, problem: missing.length ? `${dimba.name} needs ${missing.join('; ')}` : null };
}

/** The `pipeline` a Dimba model shows in models.list. */
export function pipelineSummary(dimba: Model, all: readonly Model[], modelsFolder: string): ModelPipeline {
  const p = pipelineParts(dimba, all, modelsFolder);
  return { textEncoder: p.textEncoder?.id ?? null, vae: p.vae?.id ?? null, problem: p.problem };
}

/** The training resolution: from the config's latent size, else the file name (dimba-l-512), else 512. */
export function dimbaResolution(dimba: Model, location: string): number {
  const inputSize = dimba.config?.input_size;
  if (typeof inputSize === 'number' && Number.isInteger(inputSize) && inputSize > 0) return inputSize * 8;
  const named = RESOLUTIONS.find((r) => new RegExp(`(^|[^0-9])${r}([^0-9]|$)`).test(path.basename(location)));
  return named ?? 512;
}

/** The engine manifest for a Dimba model and its parts (absolute paths throughout). */
export function pipelineManifest(dimba: Model, textEncoder: Model, vae: Model, modelsFolder: string): Record<string, unknown> {
  const weights = modelLocation(dimba, modelsFolder);
  const t5 = modelLocation(textEncoder, modelsFolder);
  const resolution = dimbaResolution(dimba, weights);
  return {
    format: 'dimba-model-manifest',
    version: 1,
    id: dimba.id,
    name: dimba.name,
    resolution,
    // The config found beside the checkpoint, inline; without one, the reference Dimba-L/2.
    dimba: { config: dimba.config ?? 'dimba-l-2', weights },
    text_encoder: { folder: t5, tokenizer: path.join(t5, 'spiece.model') },
    vae: { folder: modelLocation(vae, modelsFolder) },
    defaults: { steps: 20, guidance: 4.5, sampler: 'dpm++2m', width: resolution, height: resolution },
  };
}

/**
 * Writes the manifest into the Dimba model's registry folder (atomically) and returns its path;
 * older manifests of that model are removed. Throws MODEL_INVALID naming what is missing.
 */
export async function writePipelineManifest(dimba: Model, all: readonly Model[], modelsFolder: string): Promise<string> {
  const parts = pipelineParts(dimba, all, modelsFolder);
  if (parts.problem || !parts.textEncoder || !parts.vae) throw new ApiError('MODEL_INVALID', parts.problem ?? `${dimba.name} cannot run`);
  const manifest = pipelineManifest(dimba, parts.textEncoder, parts.vae, modelsFolder);
  const text = JSON.stringify(manifest);
  const name = `pipeline-${createHash('sha256').update(text).digest('hex').slice(0, 12)}.manifest.json`;
  const folder = path.join(modelsFolder, dimba.id);
  const file = path.join(folder, name);
  if (!existsSync(file)) await writeJsonAtomic(file, manifest);
  for (const old of await readdir(folder)) {
    if (old !== name && MANIFEST_PATTERN.test(old)) await rm(path.join(folder, old), { force: true });
  }
  return file;
}
