// The jobs API through the real dispatcher and composition root: a recipe is validated at the
// boundary, bad ids answer NOT_FOUND, and the queue persists in the library across a restart
// of the services (the queue is paused first, so no engine process starts).
import { describe, expect, it } from 'vitest';
import { createDispatcher } from '../../../main/rpc/dispatcher.js';
import { createHandlers } from '../../../main/rpc/handlers.js';
import { createServices } from '../../../main/services/index.js';
import { useTempFolders } from '../support/temp.js';

const temp = useTempFolders();

function studio(folder: string, events: string[] = []) {
  const services = createServices({ userDataFolder: folder, mode: 'browser', version: '1.0.0', emit: (e) => events.push(e) });
  return { services, dispatcher: createDispatcher(createHandlers(services), () => undefined) };
}

describe('jobs API', () => {
  it('refuses bad recipes with INVALID_PARAMS and unknown ids with NOT_FOUND', async () => {
    const { dispatcher, services } = studio(temp());
    for (const params of [
      { recipe: { prompt: '', model: '/m.json' } },
      { recipe: { prompt: 'x', model: '/m.json', width: 100 } },
      { recipe: { prompt: 'x', model: '/m.json', seed: '18446744073709551616' } },
      { recipe: { prompt: 'x', model: '/m.json' }, count: 0 },
      { recipe: { prompt: 'x', model: '/m.json', extra: 1 } },
    ]) {
      expect(await dispatcher.dispatch('jobs.enqueue', params), JSON.stringify(params)).toMatchObject({ ok: false, error: { code: 'INVALID_PARAMS' } });
    }
    expect(await dispatcher.dispatch('jobs.cancel', { id: 'nope' })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(services.jobs.list().jobs).toEqual([]);
  });

  it('queued jobs survive a restart of the services, in order and paused state', async () => {
    const folder = temp();
    const events: string[] = [];
    const first = studio(folder, events);
    await first.dispatcher.dispatch('jobs.pause', {});
    const a = await first.dispatcher.dispatch('jobs.enqueue', { recipe: { prompt: 'a', model: '/m.json' }, count: 2 });
    const b = await first.dispatcher.dispatch('jobs.enqueue', { recipe: { prompt: 'b', model: '/m.json' } });
    if (!a.ok || !b.ok) throw new Error('enqueue failed');
    await first.dispatcher.dispatch('jobs.move', { id: (b.result as { id: string }).id, before: (a.result as { id: string }).id });
    expect(events).toEqual(['onQueueChanged', 'onJobQueued', 'onJobQueued', 'onQueueChanged']);
    first.services.jobs.stop();
    const second = studio(folder);
    const listed = await second.dispatcher.dispatch('jobs.list', {});
    expect(listed).toMatchObject({
      ok: true,
      result: { paused: true, jobs: [{ recipe: { prompt: 'b' }, status: 'queued' }, { recipe: { prompt: 'a' }, count: 2, status: 'queued' }] },
    });
  });
});
