// The engine host against a stand-in engine process: jobs run one at a time, crashes of every
// kind fail only the job in flight and the next job runs on a fresh process, cancel always ends
// a job, previews obey back-pressure, the memory budget refuses a model before loading it.
import { afterEach, describe, expect, it } from 'vitest';
import type { EngineHost } from '../../../main/engine-host/host.js';
import { EngineHostError } from '../../../main/engine-host/errors.js';
import { fakeHost, recipe } from './fake-engine.js';

let host: EngineHost | undefined;
afterEach(() => host?.stop());

async function failure(p: Promise<unknown>): Promise<EngineHostError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof EngineHostError)) throw new Error(`expected an EngineHostError, got ${String(error)}`);
  return error;
}

describe('engine host', () => {
  it('loads a model and runs a job with progress, returning the images', async () => {
    host = fakeHost();
    const backends = await host.start();
    expect(backends.map((b) => b.name)).toContain('cpu');
    expect(await host.chooseBackend('vulkan')).toMatchObject({ backend: 'cpu', reason: expect.stringMatching(/unavailable/) });
    const model = await host.ensureModel('/models/tiny.manifest.json');
    expect(model.sizeMultiple).toBe(8);
    const steps: number[] = [];
    const done = await host.run('j1', recipe({ count: 2, seed: '7' }), { onProgress: (p) => steps.push(p.step) });
    expect(done.images.map((i) => i.seed)).toEqual(['7', '8']);
    expect(done.images[0]!.rgb).toBeInstanceOf(Uint8Array);
    expect(steps).toEqual([1, 2, 3, 4, 1, 2, 3, 4]);
  });

  it('starts under the backend setting, asks the engine to load there, and keeps where the model runs', async () => {
    const probes = [
      { name: 'cpu', available: true, preferred: true, detail: 'reference' },
      { name: 'vulkan', available: true, preferred: false, detail: 'llvmpipe (a CPU driver)' },
    ];
    let setting: 'auto' | 'vulkan' = 'auto';
    const logs: string[] = [];
    host = fakeHost({ backendSetting: () => setting, log: (m) => logs.push(m), env: { DIMBA_FAKE_BACKENDS: JSON.stringify(probes) } });
    await host.ensureModel('/m.json');
    expect(host.backend).toMatchObject({ backend: 'cpu', reason: expect.stringMatching(/^auto: cpu \(.*vulkan: llvmpipe/) });
    // The engine echoes the backend it was asked to load on.
    expect(host.loadedModel).toMatchObject({ backend: 'cpu', backendReason: 'asked for cpu' });
    host.stop();

    setting = 'vulkan';
    host = fakeHost({ backendSetting: () => setting, log: (m) => logs.push(m), env: { DIMBA_FAKE_BACKENDS: JSON.stringify(probes) } });
    await host.ensureModel('/m.json');
    expect(host.backend).toMatchObject({ backend: 'vulkan', reason: 'vulkan: chosen in settings' });
    expect(host.loadedModel).toMatchObject({ backend: 'vulkan' });
    expect(logs.filter((l) => l.includes('ready; backend'))).toEqual([
      expect.stringMatching(/backend cpu: auto: cpu/),
      expect.stringMatching(/backend vulkan: vulkan: chosen in settings/),
    ]);
  });

  it('a failed load is a typed error carrying the engine code', async () => {
    host = fakeHost();
    const e = await failure(host.ensureModel('/models/missing.json'));
    expect(e.code).toBe('E_IO');
  });

  it.each(['segfault', 'abort', 'oom', 'exit'] as const)('a %s mid-job fails that job with the reason; the next job runs on a new process', async (fault) => {
    host = fakeHost({ stepMs: 20 });
    await host.ensureModel('/m.json');
    const firstPid = host.pid;
    const h = host;
    const running = h.run('crashy', recipe({ steps: 1000 }), {
      onProgress: (p) => {
        if (p.step === 2) h.injectFault(fault);
      },
    });
    const e = await failure(running);
    expect(e.code).toBe('ENGINE_CRASHED');
    expect(e.message).toMatch(fault === 'exit' ? /code 70/ : fault === 'oom' ? /SIGKILL/ : fault === 'abort' ? /SIGABRT/ : /SIGSEGV/);
    expect(host.crashes).toBe(1);
    // The model was lost with the process: ensureModel loads it again on a fresh one.
    await host.ensureModel('/m.json');
    expect(host.pid).not.toBe(firstPid);
    const done = await host.run('next', recipe());
    expect(done.images).toHaveLength(1);
    expect(host.starts).toBe(2);
  });

  it('cancel stops a running job within a step with E_CANCELLED', async () => {
    host = fakeHost({ stepMs: 20 });
    await host.ensureModel('/m.json');
    const h = host;
    let cancelledAt = 0;
    let lastStep = 0;
    const running = h.run('c', recipe({ steps: 1000 }), {
      onProgress: (p) => {
        lastStep = p.step;
        if (p.step === 3) {
          cancelledAt = p.step;
          h.cancel('c');
        }
      },
    });
    const e = await failure(running);
    expect(e.code).toBe('E_CANCELLED');
    expect(lastStep - cancelledAt).toBeLessThanOrEqual(1);
    expect(host.starts).toBe(1);
  });

  it('a hung engine that ignores cancel is killed after the grace and the host recovers', async () => {
    host = fakeHost({ stepMs: 20, cancelGraceMs: 200 });
    await host.ensureModel('/m.json');
    const h = host;
    const running = h.run('hang', recipe({ steps: 1000 }), {
      onProgress: (p) => {
        if (p.step === 1) {
          h.injectFault('hang');
          h.cancel('hang');
        }
      },
    });
    const e = await failure(running);
    expect(e.code).toBe('E_CANCELLED');
    await host.ensureModel('/m.json');
    expect((await host.run('after', recipe())).images).toHaveLength(1);
  });

  it('a malformed engine message is treated as a crash', async () => {
    host = fakeHost();
    await host.ensureModel('/m.json');
    const e = await failure(host.run('bad', recipe({ prompt: 'malformed' })));
    expect(e.code).toBe('ENGINE_PROTOCOL');
    await host.ensureModel('/m.json');
    expect((await host.run('ok', recipe())).images).toHaveLength(1);
  });

  it('previews: at most one in flight; the engine drops the rest until the host acks', async () => {
    host = fakeHost({ stepMs: 1 });
    await host.ensureModel('/m.json');
    const seen: number[] = [];
    await host.run('p', recipe({ steps: 40, previewEvery: 1 }), { onPreview: (p) => seen.push(p.step) });
    // Every preview the host saw was forwarded before the next was sent (steps strictly increase).
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.length).toBeLessThanOrEqual(40);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
  });

  it('refuses a model over the memory budget before loading it', async () => {
    host = fakeHost({ memoryBudgetBytes: 2 ** 30, estimateModelBytes: () => 3 * 2 ** 30 });
    const e = await failure(host.ensureModel('/big.json'));
    expect(e.code).toBe('MEMORY_BUDGET');
    expect(e.message).toMatch(/3\.0 GiB/);
  });

  it('a second job while one runs is refused, not interleaved', async () => {
    host = fakeHost({ stepMs: 10 });
    await host.ensureModel('/m.json');
    const first = host.run('a', recipe({ steps: 5 }));
    const e = await failure(host.run('b', recipe()));
    expect(e.message).toMatch(/busy/);
    expect((await first).jobId).toBe('a');
  });
});
