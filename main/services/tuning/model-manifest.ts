// The resolution a tuning dataset is checked against: the model manifest's "resolution" (the
// engine's manifest reader, native/src/pipeline/manifest.h, defaults it to 512 the same way).
import { promises as fs } from 'node:fs';

export async function manifestResolution(manifestPath: string): Promise<number> {
  const json = JSON.parse(await fs.readFile(manifestPath, 'utf8')) as Record<string, unknown>;
  return typeof json.resolution === 'number' ? json.resolution : 512;
}
