// `node dist/main/server/main.js`: runs browser mode until interrupted and prints the address.
// Environment: DIMBA_PORT (default: a free port), DIMBA_USER_DATA (default: the user-data folder),
// DIMBA_OPEN=1 to open the address in the system browser.
import { spawn } from 'node:child_process';
import { defaultUserDataFolder, rendererFolder } from '../runtime/paths.js';
import { studioVersion } from '../runtime/version.js';
import { startBrowserMode } from './browser-mode.js';

function openInBrowser(url: string): void {
  const command = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  const child = spawn(command, [url], { stdio: 'ignore', detached: true });
  child.on('error', () => console.log('(no browser to open here: open the address yourself)'));
  child.unref();
}

const port = process.env.DIMBA_PORT ? Number(process.env.DIMBA_PORT) : 0;
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`DIMBA_PORT must be a port number, got ${process.env.DIMBA_PORT}`);
  process.exit(2);
}
const userDataFolder = defaultUserDataFolder();
const server = await startBrowserMode({ userDataFolder, rendererFolder, version: studioVersion(), port });
console.log(`Dimba Studio (browser mode) is running; user data in ${userDataFolder}`);
console.log(`Open: ${server.url}`);
if (process.env.DIMBA_OPEN === '1') openInBrowser(server.url);

const stop = (): void => {
  void server.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
