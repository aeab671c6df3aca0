import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './studio';

/** The Electron binary, or why the Electron end-to-end test cannot run here. */
export function electronRuntime(): { path: string; skip: null } | { path: null; skip: string } {
  const pkg = path.join(repoRoot, 'node_modules', 'electron');
  const pathFile = path.join(pkg, 'path.txt');
  if (!existsSync(pathFile)) {
    return {
      path: null,
      skip: 'the Electron runtime is not installed (its download was skipped or unreachable; `npm run install:electron` fetches it)',
    };
  }
  const binary = path.join(pkg, 'dist', readFileSync(pathFile, 'utf8').trim());
  if (!existsSync(binary)) return { path: null, skip: `the Electron runtime is missing at ${binary}` };
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    return { path: null, skip: 'no display to open a window on (run under `xvfb-run -a`)' };
  }
  return { path: binary, skip: null };
}
