// `npm start`: the Electron window when the Electron runtime is installed, otherwise browser mode
// (prints the address with its token, and opens it when there is a desktop to open it on).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { electronRuntime, root } from './lib.mjs';

const runtime = electronRuntime();
let child;
if (runtime.path) {
  console.log('Starting Dimba Studio in Electron');
  child = spawn(runtime.path, [root], { stdio: 'inherit' });
} else {
  console.log(`No Electron runtime (${runtime.reason}): starting browser mode.`);
  const hasDesktop = Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY) || process.platform !== 'linux';
  const env = { ...process.env, DIMBA_OPEN: process.env.DIMBA_OPEN ?? (hasDesktop && !process.env.CI ? '1' : '0') };
  child = spawn(process.execPath, [path.join(root, 'dist', 'main', 'server', 'main.js')], { stdio: 'inherit', env });
}
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
