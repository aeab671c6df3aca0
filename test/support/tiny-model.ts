// A tiny random Dimba text-to-image model (T5, VAE and Dimba with a manifest), written by the
// engine's own test program, for tests that run the real engine end to end. `npm test` builds
// that program with the addon (its first step), so these tests run in CI; DIMBA_TINY_MANIFEST
// names an existing manifest instead.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { addonPath } from '../../main/engine/addon.js';

const WRITER = path.resolve('build/native/test_pipeline');

/** Why the real engine cannot run here, or null when it can. */
export function nativeEngineMissing(): string | null {
  if (!existsSync(addonPath())) return `the native addon is not built (${addonPath()}): run npm run build:native`;
  if (!process.env.DIMBA_TINY_MANIFEST && !existsSync(WRITER)) return `${WRITER} is not built: run npm run build:native`;
  return null;
}

/** The manifest path of a tiny model written into `folder` (or DIMBA_TINY_MANIFEST). */
export function writeTinyModel(folder: string): string {
  if (process.env.DIMBA_TINY_MANIFEST) return process.env.DIMBA_TINY_MANIFEST;
  const out = execFileSync(WRITER, ['--write-tiny-model', folder], { encoding: 'utf8' });
  return out.trim().split('\n').at(-1)!;
}
