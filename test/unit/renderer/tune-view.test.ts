// @vitest-environment happy-dom
// The Tune view on a stand-in platform: a dataset's problems shown with Start disabled, a good
// dataset's captions edited in bulk and with a trigger reaching tuning.start, the selected run's
// curve (raw and smoothed), stats, checkpoints with the overfitting flag, resume after a cancel,
// "Use this checkpoint", and a live step appended to the curve; the Generate view then offers
// the variant with a strength that the job's recipe carries.
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { describe, expect, it } from 'vitest';
import type { MethodName, Model, Reply, TuningRun, Variant } from '../../../main/api/index.js';
import { tuningSettingsSchema } from '../../../main/api/index.js';
import { createClient } from '../../../renderer/api/client';
import { clientKey } from '../../../renderer/composables/useClient';
import { smoothed } from '../../../renderer/stores/tuning';
import GenerateView from '../../../renderer/views/GenerateView.vue';
import TuneView from '../../../renderer/views/TuneView.vue';
import { FakePlatform } from '../support/fake-platform';

const builtin: Model = {
  id: 'dimba-builtin-32',
  name: 'Built-in',
  kind: 'builtin',
  status: 'ready',
  source: { type: 'local', path: '/b' },
  files: [],
  totalBytes: 1,
  config: null,
  validation: null,
  addedAt: '2026-01-01T00:00:00.000Z',
};

function run(over: Partial<TuningRun> = {}): TuningRun {
  return {
    id: 'r1',
    status: 'cancelled',
    settings: tuningSettingsSchema.parse({ name: 'Greens', model: builtin.id, steps: 30, saveEvery: 10 }),
    images: 8,
    createdAt: '2026-01-01T00:00:00.000Z',
    step: 20,
    error: null,
    phase: 'finished',
    losses: Array.from({ length: 20 }, (_, i) => 1 / (i + 1)),
    lrs: Array.from({ length: 20 }, () => 1e-4),
    secondsPerStep: 0.5,
    etaSeconds: null,
    startValidationLoss: 0.5,
    baseSamples: [{ prompt: 'a shape', seed: 42, dataUrl: 'data:image/png;base64,AA==' }],
    checkpoints: [
      { step: 10, trainLoss: 0.3, validationLoss: 0.4, overfitting: false, samples: [{ prompt: 'a shape', seed: 42, dataUrl: 'data:image/png;base64,AA==' }] },
      { step: 20, trainLoss: 0.2, validationLoss: 0.45, overfitting: true, samples: [{ prompt: 'a shape', seed: 42, dataUrl: 'data:image/png;base64,AA==' }] },
    ],
    ...over,
  };
}

const variant: Variant = { id: 'v1', name: 'Greens @ 20', model: builtin.id, kind: 'lora', runId: 'r1', step: 20, hash: 'sha256:ab', createdAt: '2026-01-01T00:00:00.000Z' };

class TunePlatform extends FakePlatform {
  runs: TuningRun[] = [run()];
  variants: Variant[] = [];
  problems = true;
  override async call<M extends MethodName>(method: M, params?: unknown): Promise<Reply<M>> {
    // Recorded and validated against the API's schema first, like the main side does.
    const checked = await super.call(method, params);
    if (!checked.ok) return checked;
    const ok = (result: unknown) => ({ ok: true, result }) as Reply<M>;
    switch (method) {
      case 'models.list':
        return ok([builtin]);
      case 'gallery.collections':
        return ok({ collections: [{ id: 3, name: 'Greens', createdAt: 0, count: 2 }] });
      case 'tuning.list':
        return ok({ runs: this.runs });
      case 'tuning.variants':
        return ok({ variants: this.variants });
      case 'tuning.dataset': {
        const items = [
          { key: 'u1', name: 'u1.png', recipeCaption: 'a green star', width: 40, height: 40 },
          { key: 'u2', name: 'u2.png', recipeCaption: '', width: 8, height: 8 },
        ];
        const problems = this.problems ? [{ code: 'IMAGE_TOO_SMALL', key: 'u2', message: "u2.png is 8x8, smaller than the model's 32x32" }] : [];
        return ok({ items, problems, resolution: 32 });
      }
      case 'tuning.start':
        return ok(run({ id: 'r2', status: 'queued', step: 0, losses: [], checkpoints: [] }));
      case 'tuning.resume':
        return ok(run({ status: 'queued' }));
      case 'tuning.useCheckpoint':
        return ok(variant);
      default:
        return checked;
    }
  }
}

function mountWith(component: typeof TuneView | typeof GenerateView, platform: TunePlatform) {
  const pinia = createPinia();
  setActivePinia(pinia);
  return mount(component, { global: { plugins: [pinia], provide: { [clientKey as symbol]: createClient(platform) } } });
}

describe('smoothed', () => {
  it('is an exponential moving average starting at the first point', () => {
    expect(smoothed([1, 0, 0], 0.5)).toEqual([1, 0.5, 0.25]);
    expect(smoothed([])).toEqual([]);
  });
});

describe('Tune view', () => {
  it('shows a dataset\'s problems with Start disabled, then starts a run with the captions written', async () => {
    const platform = new TunePlatform();
    const w = mountWith(TuneView, platform);
    await flushPromises();
    await w.get('[data-testid="tune-check"]').trigger('click');
    await flushPromises();
    expect(w.get('[data-testid="tune-problems"]').text()).toContain('8x8, smaller than');
    expect(w.get('[data-testid="tune-start"]').attributes('disabled')).toBeDefined();
    platform.problems = false;
    await w.get('[data-testid="tune-check"]').trigger('click');
    await flushPromises();
    expect(w.find('[data-testid="tune-problems"]').exists()).toBe(false);
    await w.get('[data-testid="tune-trigger"]').setValue('sks');
    await w.get('[data-testid="tune-bulk-caption"]').setValue('a picture');
    await w.get('[data-testid="tune-bulk-apply"]').trigger('click');
    await w.get('[data-testid="tune-steps"]').setValue(12);
    await w.get('[data-testid="tune-settings"]').trigger('submit');
    await flushPromises();
    const start = platform.calls.find((c) => c.method === 'tuning.start')!.params as { source: unknown; captions: unknown; settings: { steps: number; model: string } };
    expect(start.source).toEqual({ kind: 'collection', id: 3 });
    expect(start.captions).toEqual({ edits: { u1: 'a picture', u2: 'a picture' }, trigger: 'sks' });
    expect(start.settings).toMatchObject({ steps: 12, model: builtin.id, mode: 'lora' });
    expect(w.get('[data-testid="tune-status"]').text()).toBe('queued');
  });

  it('follows a run: curve, stats, checkpoints with the overfitting flag, resume, use this checkpoint, live steps', async () => {
    const platform = new TunePlatform();
    const w = mountWith(TuneView, platform);
    await flushPromises();
    expect(w.get('[data-testid="tune-loss-raw"]').attributes('d')).toMatch(/^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+){19}$/);
    expect(w.find('[data-testid="tune-loss-smooth"]').exists()).toBe(true);
    expect(w.get('[data-testid="tune-step"]').text()).toBe('20 / 30');
    expect(w.get('[data-testid="tune-checkpoint-20"]').find('[data-testid="tune-overfitting"]').exists()).toBe(true);
    expect(w.get('[data-testid="tune-checkpoint-10"]').find('[data-testid="tune-overfitting"]').exists()).toBe(false);
    expect(w.get('[data-testid="tune-resume"]').text()).toBe('Resume from step 20');
    await w.get('[data-testid="tune-use-20"]').trigger('click');
    await flushPromises();
    expect(platform.calls.find((c) => c.method === 'tuning.useCheckpoint')!.params).toEqual({ id: 'r1', step: 20, name: 'Greens @ 20' });
    expect(w.get('[data-testid="tune-used"]').text()).toMatch(/Greens @ 20" is now a variant/);
    platform.emit('onTuningStep', { id: 'r1', step: 21, loss: 0.01, lr: 1e-4, secondsPerStep: 0.4, etaSeconds: 3.6 });
    await flushPromises();
    expect(w.get('[data-testid="tune-step"]').text()).toBe('21 / 30');
    expect(w.get('[data-testid="tune-loss-raw"]').attributes('d')!.split('L')).toHaveLength(21);
    expect(w.get('[data-testid="tune-eta"]').text()).toBe('4 s');
  });

  it('Generate offers the model\'s variants with a strength that the job carries', async () => {
    const platform = new TunePlatform();
    platform.variants = [variant];
    const w = mountWith(GenerateView, platform);
    await flushPromises();
    await w.get('[data-testid="gen-prompt"]').setValue('a shape');
    await w.get('[data-testid="gen-variant-select"]').setValue('v1');
    await w.get('[data-testid="gen-variant-strength"]').setValue(0.6);
    await w.get('[data-testid="generate-form"]').trigger('submit');
    await flushPromises();
    const enqueue = platform.calls.find((c) => c.method === 'jobs.enqueue')!.params as { recipe: { adapter?: unknown } };
    expect(enqueue.recipe.adapter).toEqual({ id: 'v1', strength: 0.6 });
  });
});
