// Measures the engine host and the job queue on the real engine process with the tiny random
// model (native/tests/test_pipeline.cpp --write-tiny-model): cancel latency, crash recovery, and
// how the queue behaves with 1,000 jobs queued. Prints medians; the machine is noisy.
//   npm run build:main && node scripts/bench-engine-host.mjs [MANIFEST]
// Without MANIFEST it writes the tiny model with build/native/test_pipeline into a temp folder.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => path.join(root, 'dist', 'main', p);
const { EngineHost } = await import(dist('engine-host/host.js'));
const { nodeEngineSpawner } = await import(dist('engine-host/channel.node.js'));
const { openLibrary } = await import(dist('services/library/library.js'));
const { createSqliteJobStore } = await import(dist('services/jobs/store.sqlite.js'));
const { createJobsService } = await import(dist('services/jobs/jobs.service.js'));

const temp = mkdtempSync(path.join(os.tmpdir(), 'dimba-bench-host-'));
let manifest = process.argv[2];
if (!manifest) {
  const out = execFileSync(path.join(root, 'build/native/test_pipeline'), ['--write-tiny-model', path.join(temp, 'model')], { encoding: 'utf8' });
  manifest = out.trim().split('\n').at(-1);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const ms = (x) => `${x.toFixed(2)} ms`;
const spawn = nodeEngineSpawner(dist('engine-host/engine-process.js'));

// Cancel latency: cancel at step 3 of a long job; time from cancel() to the job's E_CANCELLED.
{
  const host = new EngineHost({ spawn, env: { DIMBA_ENGINE_FAULTS: '1' } });
  await host.ensureModel(manifest, 'f32');
  const size = Number(process.env.BENCH_SIZE ?? 256);
  const lat = [];
  const stepTimes = [];
  for (let trial = 0; trial < 9; trial++) {
    let tCancel = 0;
    let tPrev = 0;
    const r = host.run(`c${trial}`, { prompt: 'a fox', seed: String(trial), steps: 1000, width: size, height: size, count: 1, previewEvery: 0 }, {
      onProgress: (p) => {
        const t = performance.now();
        if (p.stage === 'sampling' && p.step > 1 && tPrev) stepTimes.push(t - tPrev);
        tPrev = t;
        if (p.step === 3 && !tCancel) {
          tCancel = performance.now();
          host.cancel(`c${trial}`);
        }
      },
    });
    const code = await r.then(() => 'done', (e) => e.code);
    if (code !== 'E_CANCELLED') throw new Error(`expected E_CANCELLED, got ${code}`);
    lat.push(performance.now() - tCancel);
  }
  console.log(`cancel latency (${size}x${size}, ${lat.length} trials): median ${ms(median(lat))}, max ${ms(Math.max(...lat))}; one sampling step median ${ms(median(stepTimes))}`);

  // Crash recovery: segfault mid-job -> failed job -> fresh process with the model loaded again.
  const rec = [];
  for (let trial = 0; trial < 5; trial++) {
    const r = host.run(`k${trial}`, { prompt: 'a fox', seed: '1', steps: 1000, width: 64, height: 32, count: 1, previewEvery: 0 }, {
      onProgress: (p) => p.step === 2 && host.injectFault('segfault'),
    });
    const code = await r.then(() => 'done', (e) => e.code);
    if (code !== 'ENGINE_CRASHED') throw new Error(`expected ENGINE_CRASHED, got ${code}`);
    const t0 = performance.now();
    await host.ensureModel(manifest, 'f32');
    await host.run(`after${trial}`, { prompt: 'a fox', seed: '1', steps: 2, width: 64, height: 32, count: 1, previewEvery: 0 });
    rec.push(performance.now() - t0);
  }
  console.log(`crash recovery (segfault -> new process, model reloaded, next 2-step job done): median ${ms(median(rec))} over ${rec.length}`);
  host.stop();
}

// 1,000 queued jobs on the library database: enqueue, list, claim, and event-loop delay and
// event rate while the queue drains jobs one after another.
{
  const lib = openLibrary({ folder: path.join(temp, 'library'), check: 'none' });
  const store = createSqliteJobStore(lib.db);
  const host = new EngineHost({ spawn });
  const events = [];
  let saved = 0;
  const service = createJobsService({
    store,
    engine: host,
    sink: { save: async () => `img${++saved}` },
    emit: (event) => events.push({ event, t: performance.now() }),
    previewEvery: () => 1,
  });
  service.pause();
  const enq = [];
  for (let i = 0; i < 1000; i++) {
    const t = performance.now();
    service.enqueue({ prompt: `job ${i}`, negativePrompt: '', model: manifest, seed: String(i), steps: 4, width: 64, height: 32 }, 1);
    enq.push(performance.now() - t);
  }
  const lists = [];
  for (let i = 0; i < 9; i++) {
    const t = performance.now();
    service.list({ limit: 1000 });
    lists.push(performance.now() - t);
  }
  const moves = [];
  const queued = store.list({ statuses: ['queued'] });
  for (let i = 0; i < 50; i++) {
    const t = performance.now();
    service.move(queued[999 - i].id, queued[i].id);
    moves.push(performance.now() - t);
  }
  console.log(`1000 jobs: enqueue median ${ms(median(enq))} (p99 ${ms(pct(enq, 0.99))}); list of 1000 median ${ms(median(lists))}; move median ${ms(median(moves))}`);
  await host.ensureModel(manifest, 'bf16');
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const t0 = performance.now();
  const before = events.length;
  service.resume();
  // Drain 200 of the 1000 (a whole run takes minutes on this machine's one core).
  await new Promise((resolve) => {
    const check = setInterval(() => {
      if (saved >= 200) {
        clearInterval(check);
        resolve();
      }
    }, 5);
  });
  service.pause();
  await service.idle();
  delay.disable();
  const seconds = (performance.now() - t0) / 1000;
  const evs = events.slice(before);
  const gaps = evs.slice(1).map((e, i) => e.t - evs[i].t);
  console.log(
    `draining with ${1000 - 200}+ queued: ${(saved / seconds).toFixed(1)} jobs/s, ${(evs.length / seconds).toFixed(0)} events/s; ` +
      `gap between events median ${ms(median(gaps))}, p99 ${ms(pct(gaps, 0.99))}; event-loop delay p50 ${ms(delay.percentile(50) / 1e6)}, p99 ${ms(delay.percentile(99) / 1e6)}, max ${ms(delay.max / 1e6)}`,
  );
  service.stop();
  host.stop();
  lib.close();
}
rmSync(temp, { recursive: true, force: true });
