// The queue end to end on the stand-in engine process: jobs run in order and land in the sink,
// a crash mid-job fails (or, by setting, retries) only that job and the next one runs, cancel
// works queued and running, pause holds the queue, bad ids get typed errors.
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../../main/api/errors.js';
import type { JobRecipe } from '../../../main/api/jobs.js';
import { createMemoryJobStore } from '../../../main/services/jobs/store.memory.js';
import { RecordingSink, startJobs, type Harness } from './harness.js';
import { createJobsService } from '../../../main/services/jobs/jobs.service.js';
import { fakeHost } from '../engine-host/fake-engine.js';
import { sqliteStore } from './stores.js';
import { useTempFolders } from '../support/temp.js';

const recipe = (prompt: string, over: Partial<JobRecipe> = {}): JobRecipe => ({ prompt, negativePrompt: '', model: '/m.json', seed: '5', ...over });

let h: Harness | undefined;
afterEach(() => h?.close());

function untilEvent(harness: Harness, predicate: (e: Harness['events'][number]) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const t = setInterval(() => {
      if (harness.events.some(predicate)) {
        clearInterval(t);
        resolve();
      }
    }, 2);
  });
}

describe('jobs service', () => {
  it('runs queued jobs in order, saves every image with its recipe, emits the lifecycle', async () => {
    h = startJobs(createMemoryJobStore());
    const a = h.service.enqueue(recipe('a', { steps: 3 }), 2);
    const b = h.service.enqueue(recipe('b'), 1);
    await h.service.idle();
    expect(h.service.list().jobs.map((j) => [j.recipe.prompt, j.status])).toEqual([
      ['b', 'done'],
      ['a', 'done'],
    ]);
    expect(h.sink.saved.map((s) => [s.recipe.prompt, s.recipe.seed])).toEqual([
      ['a', 5],
      ['a', 6],
      ['b', 5],
    ]);
    expect(h.sink.saved[0]!.recipe.steps).toBe(3);
    expect(h.of('onJobDone')).toEqual([
      { id: a.id, imageIds: ['img1', 'img2'] },
      { id: b.id, imageIds: ['img3'] },
    ]);
    const progress = h.of('onJobProgress').filter((p) => p.id === a.id && p.stage === 'sampling');
    expect(progress.map((p) => p.step)).toEqual([1, 2, 3, 1, 2, 3]);
    expect(progress.at(-1)!.etaSeconds).toBe(0);
    for (const id of [a.id, b.id]) {
      expect(h.events.filter((e) => e.payload.id === id && e.event !== 'onJobProgress').map((e) => e.event)).toEqual([
        'onJobQueued',
        'onJobStarted',
        'onJobDone',
      ]);
    }
  });

  it('fault injection: killing the engine mid-job fails that job only; every other job is intact and the next runs', async () => {
    h = startJobs(createMemoryJobStore(), { stepMs: 10 });
    const victim = h.service.enqueue(recipe('victim', { steps: 1000 }), 1);
    const others = ['x', 'y', 'z'].map((p) => h!.service.enqueue(recipe(p), 1));
    await untilEvent(h, (e) => e.event === 'onJobProgress' && e.payload.id === victim.id && e.payload.step === 2);
    expect(h.service.list({ statuses: ['queued'] }).jobs.map((j) => j.id)).toEqual(others.map((o) => o.id));
    h.host.injectFault('segfault');
    await h.service.idle();
    const victimAfter = h.service.list().jobs.find((j) => j.id === victim.id)!;
    expect(victimAfter.status).toBe('failed');
    expect(victimAfter.error).toMatchObject({ code: 'ENGINE_CRASHED', message: expect.stringMatching(/SIGSEGV/) });
    expect(h.of('onJobFailed')).toEqual([{ id: victim.id, error: victimAfter.error, willRetry: false }]);
    for (const o of others) expect(h.service.list().jobs.find((j) => j.id === o.id)).toMatchObject({ status: 'done', attempts: 1 });
    expect(h.host.starts).toBe(2);
  });

  it('with crash retries on, the crashed job runs again first and then succeeds', async () => {
    h = startJobs(createMemoryJobStore(), { stepMs: 10, crashAttempts: () => 2 });
    const victim = h.service.enqueue(recipe('victim', { steps: 6 }), 1);
    const other = h.service.enqueue(recipe('other'), 1);
    await untilEvent(h, (e) => e.event === 'onJobProgress' && e.payload.step === 2);
    h.host.injectFault('oom');
    await h.service.idle();
    expect(h.of('onJobFailed')).toEqual([{ id: victim.id, error: expect.objectContaining({ code: 'ENGINE_CRASHED' }), willRetry: true }]);
    expect(h.of('onJobDone').map((d) => d.id)).toEqual([victim.id, other.id]);
    expect(h.service.list().jobs.find((j) => j.id === victim.id)).toMatchObject({ status: 'done', attempts: 2 });
  });

  it('cancels a queued job at once and a running one within a step', async () => {
    h = startJobs(createMemoryJobStore(), { stepMs: 10 });
    const running = h.service.enqueue(recipe('long', { steps: 1000 }), 1);
    const queued = h.service.enqueue(recipe('q'), 1);
    const after = h.service.enqueue(recipe('after'), 1);
    expect(h.service.cancel(queued.id).status).toBe('cancelled');
    await untilEvent(h, (e) => e.event === 'onJobProgress' && e.payload.id === running.id && e.payload.step === 3);
    h.service.cancel(running.id);
    await h.service.idle();
    const steps = h.of('onJobProgress').filter((p) => p.id === running.id && p.stage === 'sampling').map((p) => p.step as number);
    expect(Math.max(...steps)).toBeLessThanOrEqual(5);
    expect(h.of('onJobCancelled').map((c) => c.id)).toEqual([queued.id, running.id]);
    expect(h.service.list().jobs.find((j) => j.id === after.id)!.status).toBe('done');
    expect(h.host.starts).toBe(1);
  });

  it('answers bad requests with typed errors and changes nothing', async () => {
    h = startJobs(createMemoryJobStore());
    const a = h.service.enqueue(recipe('a'), 1);
    await h.service.idle();
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e instanceof ApiError ? e.code : `not ApiError: ${String(e)}`;
      }
      return 'no error';
    };
    expect(code(() => h!.service.cancel('missing'))).toBe('NOT_FOUND');
    expect(code(() => h!.service.cancel(a.id))).toBe('CONFLICT');
    expect(code(() => h!.service.retry(a.id))).toBe('CONFLICT');
    expect(code(() => h!.service.move(a.id, null))).toBe('CONFLICT');
    expect(h.service.list().jobs).toEqual([expect.objectContaining({ id: a.id, status: 'done' })]);
  });

  it('pause holds queued jobs; resume runs them; retry requeues a failed job', async () => {
    h = startJobs(createMemoryJobStore());
    h.service.pause();
    const failing = h.service.enqueue(recipe('fail:E_BAD_FILE'), 1);
    const ok = h.service.enqueue(recipe('ok'), 1);
    await h.service.idle();
    expect(h.service.list({ statuses: ['queued'] }).jobs).toHaveLength(2);
    h.service.resume();
    await h.service.idle();
    expect(h.service.list().jobs.find((j) => j.id === failing.id)).toMatchObject({ status: 'failed', error: { code: 'E_BAD_FILE' } });
    expect(h.service.list().jobs.find((j) => j.id === ok.id)!.status).toBe('done');
    h.service.retry(failing.id);
    await h.service.idle();
    expect(h.service.list().jobs.find((j) => j.id === failing.id)).toMatchObject({ status: 'failed', attempts: 2 });
  });

  it('a failed save fails the job with SAVE_FAILED and keeps the ids already saved', async () => {
    h = startJobs(createMemoryJobStore());
    h.sink.failOn = 2;
    const a = h.service.enqueue(recipe('a'), 3);
    await h.service.idle();
    expect(h.service.list().jobs.find((j) => j.id === a.id)).toMatchObject({
      status: 'failed',
      error: { code: 'SAVE_FAILED', message: 'disk full' },
      imageIds: ['img1'],
    });
  });

  it('previews are rate-limited per job: the surplus is dropped, not queued', async () => {
    h = startJobs(createMemoryJobStore(), { stepMs: 1, previewEvery: 1, previewIntervalMs: 60_000 });
    h.service.enqueue(recipe('p', { steps: 30 }), 1);
    await h.service.idle();
    const previews = h.of('onJobPreview');
    expect(previews).toHaveLength(1);
    expect(previews[0]!.dataUrl).toMatch(/^data:image\/png;base64,/);
    expect(h.service.processor.droppedPreviews).toBeGreaterThan(0);
  });
});

describe('jobs service on the library database', () => {
  const temp = useTempFolders();
  it('a restart requeues the job that was running and runs it', async () => {
    const folder = temp();
    const first = sqliteStore.open(folder);
    first.store.insert(recipe('was running'), 1, new Date().toISOString());
    first.store.claimNext(new Date().toISOString());
    first.close();
    const second = sqliteStore.open(folder);
    h = startJobs(second.store);
    await h.service.idle();
    expect(h.service.list().jobs).toEqual([expect.objectContaining({ status: 'done', attempts: 2 })]);
    h.close();
    second.close();
  });
});

describe('jobs service when the store fails', () => {
  it('a failing dequeue stops the loop with a log line, no unhandled rejection, and the next wake retries', async () => {
    const store = createMemoryJobStore();
    const claim = store.claimNext.bind(store);
    let broken = true;
    store.claimNext = (now) => {
      if (broken) throw new Error('database is locked');
      return claim(now);
    };
    const logs: string[] = [];
    const host = fakeHost();
    const service = createJobsService({ store, engine: host, sink: new RecordingSink(), emit: () => undefined, log: (m) => logs.push(m) });
    service.enqueue(recipe('a'), 1);
    await service.idle();
    expect(logs.join('\n')).toMatch(/queue loop stopped: Error: database is locked/);
    expect(store.list()[0]!.status).toBe('queued');
    broken = false;
    service.resume();
    await service.idle();
    expect(store.list()[0]!.status).toBe('done');
    service.stop();
    host.stop();
  });
});
