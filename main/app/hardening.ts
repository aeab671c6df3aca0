// App-wide guards from Electron's security checklist that are not tied to one window:
// permissions, navigation, new windows and <webview>.
import { app, session, type WebContents } from 'electron';
import { isAppUrl } from './origin.js';

export function denyAllPermissions(): void {
  // The studio needs no camera, microphone, notifications, geolocation, ...: refuse every request.
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
}

function guardContents(contents: WebContents): void {
  // Navigation: only between pages of the app itself.
  contents.on('will-navigate', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  contents.on('will-frame-navigate', (event) => {
    if (!isAppUrl(event.url)) event.preventDefault();
  });
  // New windows: never (window.open, target=_blank). No URL is handed to shell.openExternal.
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  // <webview>: disabled in webPreferences; refuse an attach all the same.
  contents.on('will-attach-webview', (event) => event.preventDefault());
}

export function guardAllWebContents(): void {
  app.on('web-contents-created', (_event, contents) => guardContents(contents));
}
