// The composition root: builds every service once, for whichever shell hosts them. Services are
// plain Node (no Electron import) so they run under node, in tests and in browser mode.
import type { AppInfo, EventName, PayloadOf } from '../api/index.js';
import { createFileSettings } from './settings/settings.file.js';
import type { SettingsService } from './settings/settings.js';

export type EventSink = <E extends EventName>(event: E, payload: PayloadOf<E>) => void;

export interface Services {
  appInfo(): AppInfo;
  settings: SettingsService;
}

export interface ServiceOptions {
  userDataFolder: string;
  mode: AppInfo['mode'];
  version: string;
  /** Where services publish events; the shell forwards them to its windows or sockets. */
  emit: EventSink;
  log?: (message: string) => void;
}

export function createServices(options: ServiceOptions): Services {
  const settings = createFileSettings({
    folder: options.userDataFolder,
    onChange: (value) => options.emit('onSettingsChanged', value),
    log: options.log,
  });
  return {
    appInfo: () => ({
      name: 'Dimba Studio',
      version: options.version,
      mode: options.mode,
      platform: process.platform,
      userDataFolder: options.userDataFolder,
    }),
    settings,
  };
}
