// An estimate of a model's resident size for the memory budget: the bytes of the weight files
// its manifest names (`weights` files and `folder`s, resolved against the manifest's folder like
// native/src/pipeline/manifest.h does). Weights dominate; activations are bounded by tiling.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const WEIGHT_KEYS = new Set(['weights', 'folder']);

function bytesAt(p: string): number {
  try {
    const st = statSync(p);
    if (st.isFile()) return st.size;
    if (!st.isDirectory()) return 0;
    // A part's folder holds its weights (and small configs) directly.
    return readdirSync(p).reduce((sum, name) => {
      const s = statSync(path.join(p, name), { throwIfNoEntry: false });
      return sum + (s?.isFile() ? s.size : 0);
    }, 0);
  } catch {
    return 0;
  }
}

/** Sum of the weight files a manifest names; undefined when the manifest cannot be read. */
export function estimateModelBytes(manifest: string): number | undefined {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(manifest, 'utf8'));
  } catch {
    return undefined;
  }
  const base = path.dirname(manifest);
  let total = 0;
  const walk = (value: unknown): void => {
    if (typeof value !== 'object' || value === null) return;
    for (const [key, v] of Object.entries(value)) {
      if (WEIGHT_KEYS.has(key) && typeof v === 'string') total += bytesAt(path.resolve(base, v));
      else walk(v);
    }
  };
  walk(json);
  return total;
}
