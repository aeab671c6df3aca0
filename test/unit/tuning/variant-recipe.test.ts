// Generating with a tuning variant: the job's adapter reaches the engine's model load (path and
// strength, a different strength being another load), every image's recipe records the
// variant's id, hash and strength (and the gallery row keeps them), and an unknown variant
// fails the job with NOT_FOUND.
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../main/api/errors.js';
import type { JobRecipe } from '../../../main/api/jobs.js';
import type { ModelInfo } from '../../../main/engine-host/protocol.js';
import { galleryRecipeOf } from '../../../main/services/gallery/image-sink.gallery.js';
import { createJobsService } from '../../../main/services/jobs/jobs.service.js';
import type { JobEngine } from '../../../main/services/jobs/processor.js';
import { createMemoryJobStore } from '../../../main/services/jobs/store.memory.js';
import { RecordingSink } from '../jobs/harness.js';

const info: ModelInfo = {
  id: 'm',
  name: 'M',
  manifestHash: 'fnv1a64:1',
  tokenizerHash: 't',
  t5WeightsId: 'w',
  weights: 'bf16',
  sizeMultiple: 4,
  defaults: { steps: 2, guidance: 4, sampler: 'dpm++2m', width: 32, height: 32 },
};

function engineStub() {
  const loads: unknown[][] = [];
  const engine: JobEngine = {
    ensureModel: async (...args: unknown[]) => {
      loads.push(args);
      return info;
    },
    run: async (jobId, recipe) => ({
      type: 'done' as const,
      jobId,
      images: Array.from({ length: recipe.count }, (_, k) => ({
        seed: String(BigInt(recipe.seed) + BigInt(k)),
        width: 32,
        height: 32,
        rgb: new Uint8Array(32 * 32 * 3),
      })),
      times: { text: 0, sampling: 0, decode: 0 },
    }),
    cancel: () => undefined,
  };
  return { engine, loads };
}

const recipe = (over: Partial<JobRecipe> = {}): JobRecipe => ({ prompt: 'a shape', negativePrompt: '', model: '/m.json', seed: '3', ...over });

describe('generating with a variant', () => {
  it('loads the variant at its strength and records it in every recipe', async () => {
    const { engine, loads } = engineStub();
    const sink = new RecordingSink();
    const service = createJobsService({
      store: createMemoryJobStore(),
      engine,
      sink,
      emit: () => undefined,
      resolveAdapter: (id) => {
        if (id !== 'v1') throw new ApiError('NOT_FOUND', `no model variant ${id}`);
        return { file: '/lib/tuning/variants/v1.safetensors', hash: 'sha256:abc' };
      },
    });
    service.enqueue(recipe({ adapter: { id: 'v1', strength: 0.7 } }), 2);
    service.enqueue(recipe(), 1);
    const bad = service.enqueue(recipe({ adapter: { id: 'nope', strength: 1 } }), 1);
    await service.idle();
    expect(loads).toEqual([
      ['/m.json', 'bf16', { path: '/lib/tuning/variants/v1.safetensors', strength: 0.7 }],
      ['/m.json', 'bf16', undefined],
    ]);
    expect(sink.saved).toHaveLength(3);
    expect(sink.saved[0]!.recipe.adapters).toEqual([{ id: 'v1', hash: 'sha256:abc', weight: 0.7 }]);
    expect(galleryRecipeOf(sink.saved[1]!.recipe).adapters).toEqual([{ id: 'v1', hash: 'sha256:abc', weight: 0.7 }]);
    expect(galleryRecipeOf(sink.saved[2]!.recipe).adapters).toEqual([]);
    const failed = service.list().jobs.find((j) => j.id === bad.id)!;
    expect(failed.status).toBe('failed');
    expect(failed.error).toEqual({ code: 'NOT_FOUND', message: 'no model variant nope' });
    service.stop();
  });
});
