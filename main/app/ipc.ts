// The Electron transport of the API: one invoke channel for calls, one channel for events.
// Every call is checked for its sender (a top-level frame showing the app's own origin) before the
// dispatcher validates its payload against the contract.
import { BrowserWindow, ipcMain, type WebFrameMain } from 'electron';
import {
  IPC_CALL_CHANNEL,
  IPC_EVENT_CHANNEL,
  type EventMessage,
  type EventName,
  type PayloadOf,
  type Reply,
} from '../api/index.js';
import type { Dispatcher } from '../rpc/dispatcher.js';
import { isAppUrl } from './origin.js';

export function isTrustedSender(frame: WebFrameMain | null | undefined): boolean {
  return frame != null && frame.parent === null && isAppUrl(frame.url);
}

export function registerIpc(dispatcher: Dispatcher): void {
  ipcMain.handle(IPC_CALL_CHANNEL, async (event, method: unknown, params: unknown): Promise<Reply> => {
    if (!isTrustedSender(event.senderFrame)) {
      return { ok: false, error: { code: 'FORBIDDEN', message: 'calls are only accepted from the studio window' } };
    }
    return dispatcher.dispatch(method, params);
  });
}

export function sendEventToWindows<E extends EventName>(event: E, payload: PayloadOf<E>): void {
  const message = { event, payload } as EventMessage;
  for (const window of BrowserWindow.getAllWindows()) {
    if (!window.isDestroyed() && isAppUrl(window.webContents.getURL())) {
      window.webContents.send(IPC_EVENT_CHANNEL, message);
    }
  }
}
