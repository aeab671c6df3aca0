// Where the studio keeps its files when it runs outside Electron (browser mode, CLI). Matches the
// folder Electron's app.getPath('userData') picks for the product name, so both modes share data.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PRODUCT_NAME = 'Dimba Studio';

export function defaultUserDataFolder(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (env.DIMBA_USER_DATA) return path.resolve(env.DIMBA_USER_DATA);
  const home = os.homedir();
  if (platform === 'win32') return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), PRODUCT_NAME);
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', PRODUCT_NAME);
  return path.join(env.XDG_CONFIG_HOME ?? path.join(home, '.config'), PRODUCT_NAME);
}

/** The folder holding package.json: the repository, or app.asar once packaged. Found by walking up
 * so it is right both for the sources (main/runtime/) and the build (dist/main/runtime/). */
function findAppRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return start;
    dir = parent;
  }
}

export const appRoot = findAppRoot(path.dirname(fileURLToPath(import.meta.url)));

/** The built renderer. */
export const rendererFolder = path.join(appRoot, 'dist', 'renderer');

/** The built-in model's files (assets/builtin). Once packaged they sit beside app.asar, unpacked:
 *  the engine reads them itself, which it cannot do inside the archive. */
export const builtinModelFolder = path.join(appRoot.replace(/app\.asar$/, 'app.asar.unpacked'), 'assets', 'builtin');
