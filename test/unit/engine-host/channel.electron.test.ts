// The engine host over Electron's utilityProcess channel (channel.electron.ts), against a
// stand-in utilityProcess (utility-process.ts: a node child with process.parentPort), since the
// Electron runtime is not installed here: the process is forked with the engine's environment and
// a service name, jobs run with pixels intact, a crash fails only the job in flight with the exit
// code, and the next job runs on a fresh process. With the main build present, the compiled
// engine-process.js also answers through parentPort.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { electronEngineSpawner } from '../../../main/engine-host/channel.electron.js';
import { EngineHostError } from '../../../main/engine-host/errors.js';
import { EngineHost } from '../../../main/engine-host/host.js';
import { FAKE_ENGINE, recipe } from './fake-engine.js';
import { standInUtilityProcess } from './utility-process.js';

let host: EngineHost | undefined;
afterEach(() => host?.stop());

describe('engine host over the utilityProcess channel (stand-in)', () => {
  it('forks with the environment and a service name, runs jobs, survives a crash with its exit code', async () => {
    const utility = standInUtilityProcess();
    host = new EngineHost({
      spawn: electronEngineSpawner(utility, FAKE_ENGINE),
      env: { DIMBA_ENGINE_FAULTS: '1', DIMBA_FAKE_STEP_MS: '5' },
    });
    await host.ensureModel('/models/tiny.manifest.json');
    expect(utility.forks[0]).toMatchObject({ modulePath: FAKE_ENGINE, options: { serviceName: 'Dimba engine', env: { DIMBA_ENGINE_FAULTS: '1' } } });
    const previews: number[] = [];
    const done = await host.run('a', recipe({ count: 2, seed: '4', previewEvery: 1 }), { onPreview: (p) => previews.push(p.step) });
    expect(done.images.map((i) => i.seed)).toEqual(['4', '5']);
    expect(done.images[1]!.rgb).toBeInstanceOf(Uint8Array);
    expect(done.images[1]!.rgb[0]).toBe(1);
    expect(previews.length).toBeGreaterThan(0);

    const crashed = await host
      .run('b', recipe({ steps: 1000 }), { onProgress: (p) => p.step === 2 && host!.injectFault('segfault') })
      .catch((e: unknown) => e);
    expect(crashed).toBeInstanceOf(EngineHostError);
    // utilityProcess reports a code only: SIGSEGV (11) arrives as 139.
    expect(crashed).toMatchObject({ code: 'ENGINE_CRASHED', message: 'the engine process exited with code 139' });

    await host.ensureModel('/models/tiny.manifest.json');
    expect((await host.run('c', recipe())).images).toHaveLength(1);
    expect(utility.forks).toHaveLength(2);
    expect(host.starts).toBe(2);
  });

  it('kill() ends the process and fails what was in flight', async () => {
    host = new EngineHost({ spawn: electronEngineSpawner(standInUtilityProcess(), FAKE_ENGINE), env: { DIMBA_FAKE_STEP_MS: '5' } });
    await host.ensureModel('/m.json');
    const pending = host.run('a', recipe({ steps: 1000 })).catch((e: unknown) => e);
    host.stop();
    expect(await pending).toMatchObject({ code: 'ENGINE_UNAVAILABLE' });
  });

  const ENTRY = path.resolve('dist/main/engine-host/engine-process.js');
  it.skipIf(!existsSync(ENTRY))(`the compiled engine process answers through parentPort${existsSync(ENTRY) ? '' : ' (skipped: npm run build:main)'}`, async () => {
    host = new EngineHost({ spawn: electronEngineSpawner(standInUtilityProcess(), ENTRY) });
    const backends = await host.start();
    expect(backends.find((b) => b.name === 'cpu')).toMatchObject({ available: true });
  });
});
