// engine.backend through the dispatcher: what the engine process found and why the setting led
// to the backend it did; an engine that cannot start still gets an answer that says so.
import { describe, expect, it } from 'vitest';
import { nodeEngineSpawner } from '../../../main/engine-host/channel.node.js';
import { createDispatcher } from '../../../main/rpc/dispatcher.js';
import { createHandlers } from '../../../main/rpc/handlers.js';
import { createServices } from '../../../main/services/index.js';
import { useTempFolders } from '../support/temp.js';
import { FAKE_ENGINE } from './fake-engine.js';

const temp = useTempFolders();

function dispatcher(entry: string, log?: (message: string) => void) {
  const services = createServices({ userDataFolder: temp(), mode: 'browser', version: '1', emit: () => undefined, spawnEngine: nodeEngineSpawner(entry), log });
  return { services, dispatcher: createDispatcher(createHandlers(services), () => undefined) };
}

describe('engine.backend', () => {
  it('reports the probes and the reason for the current setting', async () => {
    const { services, dispatcher: d } = dispatcher(FAKE_ENGINE);
    await services.settings.update({ backend: 'cuda' });
    const reply = await d.dispatch('engine.backend', {});
    expect(reply).toMatchObject({ ok: true, result: { backend: 'cpu', reason: expect.stringMatching(/cuda was chosen in settings but is unavailable/) } });
    services.engine.stop();
  });

  it('answers with the reason when the engine process cannot start', async () => {
    const { services, dispatcher: d } = dispatcher('/nonexistent/engine-process.js');
    const reply = await d.dispatch('engine.backend', {});
    expect(reply).toMatchObject({ ok: true, result: { backend: 'cpu', reason: expect.stringMatching(/engine process is unavailable/) } });
    services.engine.stop();
  });

  it('the host starts its process under the setting and logs the backend it chose and why', async () => {
    const logs: string[] = [];
    const { services } = dispatcher(FAKE_ENGINE, (m) => logs.push(m));
    await services.settings.update({ backend: 'vulkan' });
    await services.engine.start();
    expect(services.engine.backend).toMatchObject({
      backend: 'cpu',
      reason: 'vulkan was chosen in settings but is unavailable (not compiled into this build); using cpu',
    });
    expect(logs.some((l) => /^engine: process \d+ ready; backend cpu: vulkan was chosen/.test(l))).toBe(true);
    services.engine.stop();
  });
});
