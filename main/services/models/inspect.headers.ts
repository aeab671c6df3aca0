// Validation from safetensors headers, read by the main side: the first 8 bytes give the JSON
// header's length, the header gives every tensor's name, dtype, shape and byte range. Nothing
// past the header is read, so a 10 GB file takes as long as a 1 KB one. PyTorch .pt/.bin files
// need the engine's restricted unpickler and are reported as not checked here.
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Validation } from '../../api/models.js';
import { emptyValidation, type Inspector } from './inspect.js';

/** Largest header we parse; real ones are a few MB at most (T5-XXL: ~60 KB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

const DTYPE_BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export interface HeaderTensor {
  name: string;
  dtype: string;
  shape: number[];
  bytes: number;
}

export class SafetensorsHeaderError extends Error {
  override readonly name = 'SafetensorsHeaderError';
}

/** Parses one safetensors file's header, checking it against the file's size. */
export async function readSafetensorsHeader(file: string): Promise<HeaderTensor[]> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(8);
    if (size < 8 || (await handle.read(head, 0, 8, 0)).bytesRead !== 8) throw new SafetensorsHeaderError(`${file}: too short to be safetensors`);
    const n = head.readBigUInt64LE(0);
    if (n > BigInt(Math.min(MAX_HEADER_BYTES, size - 8))) throw new SafetensorsHeaderError(`${file}: header length ${n} does not fit the file`);
    const text = Buffer.alloc(Number(n));
    await handle.read(text, 0, text.length, 8);
    let json: unknown;
    try {
      json = JSON.parse(text.toString('utf8'));
    } catch {
      throw new SafetensorsHeaderError(`${file}: the header is not JSON`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new SafetensorsHeaderError(`${file}: the header is not an object`);
    const dataBytes = size - 8 - Number(n);
    const tensors: HeaderTensor[] = [];
    for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
      if (name === '__metadata__') continue;
      const v = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const offsets = v.data_offsets;
      if (
        typeof v.dtype !== 'string' ||
        !Array.isArray(v.shape) ||
        !v.shape.every((d) => Number.isInteger(d) && d >= 0) ||
        !Array.isArray(offsets) ||
        offsets.length !== 2 ||
        !offsets.every((o) => Number.isInteger(o) && o >= 0)
      ) {
        throw new SafetensorsHeaderError(`${file}: malformed entry for ${name}`);
      }
      const [begin, end] = offsets as [number, number];
      const shape = v.shape as number[];
      const bytes = end - begin;
      if (end < begin || end > dataBytes) throw new SafetensorsHeaderError(`${file}: ${name} lies outside the file (truncated?)`);
      const width = DTYPE_BYTES[v.dtype];
      if (width !== undefined && shape.reduce((a, b) => a * b, 1) * width !== bytes) {
        throw new SafetensorsHeaderError(`${file}: ${name} has ${bytes} bytes for shape [${shape.join(', ')}] ${v.dtype}`);
      }
      tensors.push({ name, dtype: v.dtype, shape, bytes });
    }
    return tensors;
  } finally {
    await handle.close();
  }
}

/** Which architecture a set of names looks like, by prefixes each model's state dict has. */
export function guessArchitecture(names: readonly string[]): Validation['architecture'] {
  const score = { dimba: 0, t5: 0, vae: 0 };
  for (const n of names) {
    if (/^(x_embedder|t_embedder|y_embedder|t_block|final_layer|blocks\.\d+\.)/.test(n)) score.dimba++;
    if (/^(shared\.weight|encoder\.block\.\d+\.|encoder\.final_layer_norm)/.test(n)) score.t5++;
    if (/^(decoder\.up_blocks|encoder\.down_blocks|decoder\.mid_block|encoder\.mid_block|post_quant_conv|quant_conv|decoder\.conv_)/.test(n)) score.vae++;
  }
  const best = (Object.entries(score) as [keyof typeof score, number][]).sort((a, b) => b[1] - a[1])[0]!;
  return best[1] > 0 ? best[0] : 'unknown';
}

async function weightFiles(target: string): Promise<string[]> {
  const s = await stat(target);
  if (s.isFile()) return [target];
  const names = await readdir(target);
  return names
    .filter((n) => /\.(safetensors|pt|pth|bin|ckpt)$/.test(n))
    .sort()
    .map((n) => path.join(target, n));
}

export const headerInspector: Inspector = {
  async inspect(target) {
    const report = emptyValidation(target, 'headers');
    let files: string[];
    try {
      files = await weightFiles(target);
    } catch (error) {
      report.problems.push(`cannot read ${target}: ${(error as Error).message}`);
      return report;
    }
    if (files.length === 0) report.problems.push(`no weight files (.safetensors, .pt, .bin) in ${target}`);
    const names: string[] = [];
    for (const file of files) {
      if (!file.endsWith('.safetensors')) {
        report.unchecked.push(file);
        report.totalBytes += (await stat(file)).size;
        continue;
      }
      try {
        for (const t of await readSafetensorsHeader(file)) {
          names.push(t.name);
          report.tensorCount++;
          report.totalBytes += t.bytes;
          report.dtypes[t.dtype] = (report.dtypes[t.dtype] ?? 0) + 1;
        }
      } catch (error) {
        report.problems.push(error instanceof Error ? error.message : String(error));
      }
    }
    report.architecture = guessArchitecture(names);
    report.ok = report.architecture !== 'unknown' && report.problems.length === 0;
    return report;
  },
};
