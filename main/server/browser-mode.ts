// Starts the studio in browser mode: services + server, wired through the one composition root.
import { createServices } from '../services/index.js';
import { createHandlers } from '../rpc/handlers.js';
import { createDispatcher } from '../rpc/dispatcher.js';
import { startStudioServer, type StudioServer } from './server.js';
import type { EventName, PayloadOf } from '../api/index.js';

export interface BrowserModeOptions {
  userDataFolder: string;
  rendererFolder: string;
  version: string;
  port?: number;
  log?: (message: string) => void;
}

export async function startBrowserMode(options: BrowserModeOptions): Promise<StudioServer> {
  const log = options.log ?? ((message: string) => console.error(message));
  let server: StudioServer | null = null;
  const services = createServices({
    userDataFolder: options.userDataFolder,
    mode: 'browser',
    version: options.version,
    emit: <E extends EventName>(event: E, payload: PayloadOf<E>) => server?.broadcast(event, payload),
    log,
  });
  const dispatcher = createDispatcher(createHandlers(services), (message, error) =>
    log(error === undefined ? message : `${message}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`),
  );
  server = await startStudioServer({
    dispatcher,
    rendererFolder: options.rendererFolder,
    port: options.port,
    log,
    libraryFiles: async (kind, uid) => (kind === 'thumb' ? services.gallery.thumbnail(uid) : services.gallery.filePath(uid)),
  });
  return server;
}
