// The addon's generate on a tiny random model: progress arrives per step, cancel() stops the run
// with E_CANCELLED, and a progress callback that is not a function is refused at the call.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate, loadPipeline, releasePipeline, type GenerateProgress, type PipelineHandle } from '../../../main/engine/addon.js';
import { nativeEngineMissing, writeTinyModel } from '../../support/tiny-model';

const missing = nativeEngineMissing();

describe.skipIf(missing !== null)(`generate through the addon${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let folder: string;
  let pipeline: PipelineHandle;

  beforeAll(async () => {
    folder = mkdtempSync(path.join(os.tmpdir(), 'dimba-addon-generate-'));
    pipeline = await loadPipeline(writeTinyModel(folder));
  });

  afterAll(() => {
    if (pipeline) releasePipeline(pipeline);
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  it('reports every sampling step and returns the image', async () => {
    const steps: number[] = [];
    const onProgress = (p: GenerateProgress) => {
      if (p.stage === 'sampling') steps.push(p.step);
    };
    const { images } = await generate(pipeline, { prompt: 'a red circle', seed: 3, steps: 4 }, { onProgress }).result;
    expect(steps).toEqual([1, 2, 3, 4]);
    expect(images).toHaveLength(1);
  });

  it('stops a cancelled run with E_CANCELLED', async () => {
    let job: ReturnType<typeof generate> | undefined;
    job = generate(pipeline, { prompt: 'a blue square', seed: 1, steps: 50 }, {
      onProgress: (p) => {
        if (p.stage === 'sampling' && p.step === 2) job?.cancel();
      },
    });
    await expect(job.result).rejects.toMatchObject({ code: 'E_CANCELLED' });
  });

  it('refuses a progress callback that is not a function', async () => {
    const onProgress = 'tell me' as unknown as (p: GenerateProgress) => void;
    await expect(generate(pipeline, { prompt: 'x' }, { onProgress }).result).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
      message: expect.stringContaining('onProgress must be a function'),
    });
  });
});
