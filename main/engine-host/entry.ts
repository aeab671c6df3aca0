// Where the engine process's entry lies once compiled: beside this file (dist/main/engine-host/).
// Shells (Electron, browser mode) and the CLI start it from here.
import { fileURLToPath } from 'node:url';

export const ENGINE_ENTRY = fileURLToPath(new URL('./engine-process.js', import.meta.url));
