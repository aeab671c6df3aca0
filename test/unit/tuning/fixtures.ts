// Image files and a model manifest for the tuning tests, and a stand-in engine host whose
// runs are driven by the test.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TuneEventMessage, TuneResultMessage, TuneSpec } from '../../../main/engine-host/tuning-protocol.js';
import { encodePng } from '../../../main/services/images/png.js';

/** A size x size PNG of one colour. */
export function writePng(folder: string, name: string, width: number, height = width, rgb: [number, number, number] = [0, 200, 0]): string {
  const px = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) px.set(rgb, i * 3);
  const file = path.join(folder, name);
  writeFileSync(file, encodePng({ width, height, rgb: px }));
  return file;
}

/** A model manifest of `resolution` (the service only reads its resolution). */
export function writeManifest(folder: string, resolution = 32): string {
  const file = path.join(folder, 'model.json');
  writeFileSync(file, JSON.stringify({ format: 'dimba-model-manifest', version: 1, id: 'm', resolution }));
  return file;
}

export interface FakeRun {
  jobId: string;
  spec: TuneSpec;
  emit: (e: TuneEventMessage) => void;
  finish: (r: Partial<TuneResultMessage>) => void;
  fail: (code: string, message: string) => void;
  cancelled: boolean;
}

/** An engine host whose tune() calls wait for the test to finish them. */
export class FakeTuningEngine {
  runs: FakeRun[] = [];
  private waiters: ((r: FakeRun) => void)[] = [];

  tune = (jobId: string, spec: TuneSpec, onEvent?: (e: TuneEventMessage) => void): Promise<TuneResultMessage> =>
    new Promise((resolve, reject) => {
      const run: FakeRun = {
        jobId,
        spec,
        cancelled: false,
        emit: (e) => onEvent?.(e),
        finish: (r) =>
          resolve({ step: spec.steps, resumedFrom: 0, cancelled: false, trainImages: spec.images.length, validationImages: 0, startValidationLoss: null, checkpoints: [], ...r }),
        fail: (code, message) => reject(Object.assign(new Error(message), { code })),
      };
      this.runs.push(run);
      this.waiters.splice(0).forEach((w) => w(run));
    });

  cancel = (jobId: string): void => {
    const run = this.runs.find((r) => r.jobId === jobId);
    if (run) run.cancelled = true;
  };

  /** The next run the service starts (or the latest, if it started already and was not taken). */
  next(taken = 0): Promise<FakeRun> {
    if (this.runs.length > taken) return Promise.resolve(this.runs[taken]!);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
