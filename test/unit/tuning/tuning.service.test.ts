// The tuning job kind: a run checked before any compute, queued and run on the engine host with
// the captions and settings it was given, its curve, samples and checkpoints recorded (with the
// overfitting flag), cancel, resume, a restart that requeues a running run and resumes it from
// its last checkpoint, and a checkpoint becoming a variant with its hash.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../main/api/errors.js';
import { tuningSettingsSchema, type TuningRun } from '../../../main/api/tuning.js';
import { createTuningService, type TuningService } from '../../../main/services/tuning/tuning.service.js';
import { useTempFolders } from '../support/temp.js';
import { FakeTuningEngine, writeManifest, writePng } from './fixtures.js';

const temp = useTempFolders();

function setup(folder = temp(), engine = new FakeTuningEngine()) {
  const images = path.join(folder, 'images');
  mkdirSync(images, { recursive: true });
  for (const n of ['a.png', 'b.png', 'c.png', 'd.png']) writePng(images, n, 40);
  const manifest = writeManifest(folder, 32);
  const events: { event: string; payload: unknown }[] = [];
  const service = createTuningService({
    folder: path.join(folder, 'tuning'),
    engine,
    gallery: () => undefined,
    manifestFor: async () => manifest,
    emit: (event, payload) => events.push({ event, payload }),
  });
  return { folder, images, engine, service, events };
}

const settings = (over: Record<string, unknown> = {}) =>
  tuningSettingsSchema.parse({ name: 'greens', model: 'm', steps: 20, saveEvery: 10, previewPrompts: ['a shape'], ...over });

const sample = { prompt: 'a shape', seed: 42, width: 2, height: 2, rgb: new Uint8Array(12) };

async function until(service: TuningService, id: string, pred: (r: TuningRun) => boolean): Promise<TuningRun> {
  for (let i = 0; i < 500; i++) {
    const r = service.get(id);
    if (pred(r)) return r;
    await new Promise((res) => setTimeout(res, 5));
  }
  throw new Error(`run ${id} never got there: ${JSON.stringify(service.get(id)).slice(0, 300)}`);
}

describe('tuning service', () => {
  it('refuses a bad dataset with DATASET_INVALID before the engine is asked', async () => {
    const s = setup();
    writePng(s.images, 'tiny.png', 8);
    const err = await s.service.start({ kind: 'folder', path: s.images }, { edits: {}, trigger: '' }, settings()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('DATASET_INVALID');
    expect((err as ApiError).message).toMatch(/tiny\.png is 8x8/);
    expect(s.engine.runs).toEqual([]);
    expect(s.service.list()).toEqual([]);
  });

  it('runs with the captions given, records the curve, samples and checkpoints, flags overfitting', async () => {
    const s = setup();
    const run = await s.service.start(
      { kind: 'folder', path: s.images },
      { edits: { 'b.png': 'my own words' }, trigger: 'sks' },
      settings(),
    );
    expect(run.status).toBe('queued');
    const fake = await s.engine.next();
    expect(fake.spec.images.map((i) => i.caption)).toEqual(['sks', 'sks, my own words', 'sks', 'sks']);
    expect(fake.spec).toMatchObject({ steps: 20, saveEvery: 10, mode: 'lora', optimizer: 'adamw', resume: true, previewSeeds: [42] });
    fake.emit({ type: 'baseSamples', samples: [sample] });
    fake.emit({ type: 'startValidation', loss: 0.55 });
    expect(s.service.get(run.id).startValidationLoss).toBe(0.55);
    for (let step = 1; step <= 10; step++) fake.emit({ type: 'progress', step, loss: 1 / step, lr: 1e-4, gradNorm: 1, secondsPerStep: 0.5 });
    fake.emit({ type: 'checkpoint', step: 10, path: 'x', trainLoss: 0.3, validationLoss: 0.5, samples: [sample] });
    for (let step = 11; step <= 20; step++) fake.emit({ type: 'progress', step, loss: 0.1, lr: 1e-4, gradNorm: 1, secondsPerStep: 0.5 });
    fake.emit({ type: 'checkpoint', step: 20, path: 'y', trainLoss: 0.1, validationLoss: 0.6, samples: [sample] });
    fake.finish({ startValidationLoss: 0.55 });
    const done = await until(s.service, run.id, (r) => r.status === 'done');
    expect(done.losses).toHaveLength(20);
    expect(done.losses[0]).toBe(1);
    expect(done.step).toBe(20);
    expect(done.baseSamples[0]!.dataUrl).toMatch(/^data:image\/png;base64,/);
    expect(done.checkpoints.map((c) => [c.step, c.validationLoss, c.overfitting])).toEqual([
      [10, 0.5, false],
      [20, 0.6, true],
    ]);
    expect(s.events.filter((e) => e.event === 'onTuningStep')).toHaveLength(20);
  });

  it('cancels a running run and resumes it; a failed engine run keeps its code', async () => {
    const s = setup();
    const run = await s.service.start({ kind: 'folder', path: s.images }, { edits: {}, trigger: '' }, settings());
    const first = await s.engine.next();
    s.service.cancel(run.id);
    expect(first.cancelled).toBe(true);
    first.finish({ cancelled: true, step: 4 });
    await until(s.service, run.id, (r) => r.status === 'cancelled');
    expect(() => s.service.cancel(run.id)).toThrow(/cancelled/);
    s.service.resume(run.id);
    const second = await s.engine.next(1);
    expect(second.spec.resume).toBe(true);
    expect(second.spec.runDir).toBe(first.spec.runDir);
    second.fail('E_INVALID_ARGUMENT', 'image 2 is unreadable');
    const failed = await until(s.service, run.id, (r) => r.status === 'failed');
    expect(failed.error).toEqual({ code: 'E_INVALID_ARGUMENT', message: 'image 2 is unreadable' });
  });

  it('after a restart, a run that was running is queued again and resumes from its last checkpoint', async () => {
    const folder = temp();
    const s = setup(folder);
    const run = await s.service.start({ kind: 'folder', path: s.images }, { edits: {}, trigger: '' }, settings());
    const first = await s.engine.next();
    for (let step = 1; step <= 12; step++) first.emit({ type: 'progress', step, loss: 1, lr: 1e-4, gradNorm: 1, secondsPerStep: 0.1 });
    first.emit({ type: 'checkpoint', step: 10, path: 'x', trainLoss: 1, validationLoss: null, samples: [] });
    await until(s.service, run.id, (r) => r.checkpoints.length === 1);
    // The app quits here: the engine call never returns. A new service reads the library.
    const engine2 = new FakeTuningEngine();
    const s2 = setup(folder, engine2);
    const resumed = await engine2.next();
    expect(resumed.jobId).toBe(run.id);
    expect(resumed.spec.runDir).toBe(first.spec.runDir);
    expect(s2.service.get(run.id).checkpoints.map((c) => c.step)).toEqual([10]);
    // The engine resumes at step 10: the curve continues from there, no step counted twice.
    resumed.emit({ type: 'progress', step: 11, loss: 0.5, lr: 1e-4, gradNorm: 1, secondsPerStep: 0.1 });
    const r = await until(s2.service, run.id, (x) => x.step === 11);
    expect(r.losses).toHaveLength(11);
    expect(r.status).toBe('running');
  });

  it('a checkpoint becomes a variant with its file hash', async () => {
    const s = setup();
    const run = await s.service.start({ kind: 'folder', path: s.images }, { edits: {}, trigger: '' }, settings());
    const fake = await s.engine.next();
    const ckDir = path.join(fake.spec.runDir, 'checkpoints');
    mkdirSync(ckDir, { recursive: true });
    writeFileSync(path.join(ckDir, 'step-000010.safetensors'), 'adapter bytes');
    fake.emit({ type: 'checkpoint', step: 10, path: 'x', trainLoss: 1, validationLoss: null, samples: [] });
    fake.finish({});
    await until(s.service, run.id, (r) => r.status === 'done');
    await expect(s.service.useCheckpoint(run.id, 7, 'nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const v = await s.service.useCheckpoint(run.id, 10, 'Green stars');
    expect(v).toMatchObject({ name: 'Green stars', model: 'm', kind: 'lora', runId: run.id, step: 10 });
    expect(v.hash).toBe(`sha256:${createHash('sha256').update('adapter bytes').digest('hex')}`);
    expect(readFileSync(s.service.variantFile(v.id).file, 'utf8')).toBe('adapter bytes');
    expect(s.service.variants()).toEqual([v]);
  });
});
