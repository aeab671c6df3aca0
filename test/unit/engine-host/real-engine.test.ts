// The real engine process (dist/main/engine-host/engine-process.js with the native addon) on the
// tiny random model: a job runs, a segfault mid-job fails it with the reason, the next job runs
// on a fresh process, and cancel stops a long job. Skipped unless the main build, the addon and
// a tiny model (DIMBA_TINY_MANIFEST, or build/native/test_pipeline to write one) exist.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeEngineSpawner } from '../../../main/engine-host/channel.node.js';
import { EngineHostError } from '../../../main/engine-host/errors.js';
import { EngineHost } from '../../../main/engine-host/host.js';
import { addonPath } from '../../../main/engine/addon.js';
import { useTempFolders } from '../support/temp.js';

const ENTRY = path.resolve('dist/main/engine-host/engine-process.js');
const WRITER = path.resolve('build/native/test_pipeline');
const ready = existsSync(ENTRY) && existsSync(addonPath()) && (!!process.env.DIMBA_TINY_MANIFEST || existsSync(WRITER));
const temp = useTempFolders();

describe.runIf(ready)('engine host on the real engine', () => {
  const host = new EngineHost({ spawn: nodeEngineSpawner(ENTRY), env: { DIMBA_ENGINE_FAULTS: '1' } });
  afterAll(() => host.stop());
  const manifest = () =>
    process.env.DIMBA_TINY_MANIFEST ??
    execFileSync(WRITER, ['--write-tiny-model', path.join(temp(), 'model')], { encoding: 'utf8' }).trim().split('\n').at(-1)!;
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
