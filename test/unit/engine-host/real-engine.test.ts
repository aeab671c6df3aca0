// The real engine process (dist/main/engine-host/engine-process.js with the native addon) on the
// tiny random model: a job runs, a segfault mid-job fails it with the reason, the next job runs
// on a fresh process, and cancel stops a long job. Skipped, with the reason in its title, unless
// the main build and the native engine exist (npm test builds both first).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeEngineSpawner } from '../../../main/engine-host/channel.node.js';
import { EngineHostError } from '../../../main/engine-host/errors.js';
import { EngineHost } from '../../../main/engine-host/host.js';
import { nativeEngineMissing, writeTinyModel } from '../../support/tiny-model.js';
import { useTempFolders } from '../support/temp.js';

const ENTRY = path.resolve('dist/main/engine-host/engine-process.js');
const missing = existsSync(ENTRY) ? nativeEngineMissing() : `${ENTRY} is not built: run npm run build:main`;
const temp = useTempFolders();

describe.skipIf(missing !== null)(`engine host on the real engine${missing ? ` (skipped: ${missing})` : ''}`, () => {
  const host = new EngineHost({ spawn: nodeEngineSpawner(ENTRY), env: { DIMBA_ENGINE_FAULTS: '1' } });
  afterAll(() => host.stop());
  const manifest = () => writeTinyModel(path.join(temp(), 'model'));
  const recipe = (steps: number, size = 64) => ({ prompt: 'a fox', seed: '3', steps, width: size, height: size, count: 1, previewEvery: 0 });

  it('runs a job, survives a segfault mid-job, and runs the next job', async () => {
    const m = manifest();
    await host.ensureModel(m, 'f32');
    const first = await host.run('a', recipe(3));
    expect(first.images[0]).toMatchObject({ seed: '3', width: 64, height: 64 });
    const crashed = await host
      .run('b', recipe(1000, 256), { onProgress: (p) => p.step === 2 && host.injectFault('segfault') })
      .catch((e: unknown) => e);
    expect(crashed).toBeInstanceOf(EngineHostError);
    expect(crashed).toMatchObject({ code: 'ENGINE_CRASHED', message: expect.stringMatching(/SIGSEGV/) });
    await host.ensureModel(m, 'f32');
    const next = await host.run('c', recipe(3));
    // Same recipe, fresh process: the same pixels.
    expect(Buffer.from(next.images[0]!.rgb).equals(Buffer.from(first.images[0]!.rgb))).toBe(true);
    const cancelled = await host
      .run('d', recipe(1000, 256), { onProgress: (p) => p.step === 2 && host.cancel('d') })
      .catch((e: unknown) => e);
    expect(cancelled).toMatchObject({ code: 'E_CANCELLED' });
  });
});
