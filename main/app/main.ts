// The Electron entry: hardening first, then services, IPC and the one window.
import { app, BrowserWindow, utilityProcess } from 'electron';
import path from 'node:path';
import { createServices, ENGINE_ENTRY } from '../services/index.js';
import { electronEngineSpawner } from '../engine-host/channel.electron.js';
import { createHandlers } from '../rpc/handlers.js';
import { createDispatcher } from '../rpc/dispatcher.js';
import { rendererFolder } from '../runtime/paths.js';
import { denyAllPermissions, guardAllWebContents } from './hardening.js';
import { registerIpc, sendEventToWindows } from './ipc.js';
import { registerAppScheme, serveRenderer } from './protocol.js';
import { createMainWindow } from './window.js';

// Tests point the studio at a scratch folder.
if (process.env.DIMBA_USER_DATA) app.setPath('userData', path.resolve(process.env.DIMBA_USER_DATA));

app.enableSandbox();
registerAppScheme();
guardAllWebContents();

const log = (message: string): void => console.error(`[dimba] ${message}`);

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    const [window] = BrowserWindow.getAllWindows();
    if (window) {
      if (window.isMinimized()) window.restore();
      window.focus();
    }
  });

  void app.whenReady().then(() => {
    denyAllPermissions();
    const services = createServices({
      userDataFolder: app.getPath('userData'),
      mode: 'electron',
      version: app.getVersion(),
      emit: sendEventToWindows,
      log,
      // The engine runs in a utility process: a native crash never takes the window down.
      spawnEngine: electronEngineSpawner(utilityProcess, ENGINE_ENTRY),
    });
    serveRenderer(rendererFolder, async (kind, uid) => (kind === 'thumb' ? services.gallery.thumbnail(uid) : services.gallery.filePath(uid)));
    registerIpc(createDispatcher(createHandlers(services), (message, error) => log(error ? `${message}: ${String(error)}` : message)));
    createMainWindow();
    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) createMainWindow();
    });
  });

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
}
