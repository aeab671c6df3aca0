// The studio's API from a test process, over browser mode's WebSocket with the launch token:
// for seeding a library quickly (queueing a job, reading the gallery) around what the page does.
import WebSocket from 'ws';
import { WS_PATH, type MethodName, type ParamsOf, type ResultOf } from '../../../main/api/index.js';
import type { RunningStudio } from './studio';

export interface StudioApi {
  call<M extends MethodName>(method: M, params?: ParamsOf<M>): Promise<ResultOf<M>>;
  close(): void;
}

export async function connectApi(studio: RunningStudio): Promise<StudioApi> {
  const url = `${studio.base.replace(/^http/, 'ws')}${WS_PATH}?token=${encodeURIComponent(studio.token)}`;
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  let next = 1;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  socket.on('message', (data) => {
    const message = JSON.parse(data.toString()) as { id?: number | null; ok?: boolean; result?: unknown; error?: { code: string; message: string } };
    if (typeof message.id !== 'number') return;
    const w = waiting.get(message.id);
    if (!w) return;
    waiting.delete(message.id);
    if (message.ok) w.resolve(message.result);
    else w.reject(new Error(`${message.error?.code}: ${message.error?.message}`));
  });
  return {
    call<M extends MethodName>(method: M, params?: ParamsOf<M>) {
      const id = next++;
      return new Promise<ResultOf<M>>((resolve, reject) => {
        waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
        socket.send(JSON.stringify({ id, method, params }));
      });
    },
    close: () => socket.close(),
  };
}
