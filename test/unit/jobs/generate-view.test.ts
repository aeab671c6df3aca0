// @vitest-environment happy-dom
// The minimal Generate view: a prompt becomes a jobs.enqueue call, the queue shows progress and
// the preview of the running job as events arrive, and errors are shown with their code.
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia } from 'pinia';
import { describe, expect, it } from 'vitest';
import type { Job, MethodName, Reply } from '../../../main/api/index.js';
import { createClient } from '../../../renderer/api/client';
import { clientKey } from '../../../renderer/composables/useClient';
import GenerateView from '../../../renderer/views/GenerateView.vue';
import { FakePlatform } from '../support/fake-platform';

const job = (over: Partial<Job> = {}): Job => ({
  id: 'j1',
  status: 'queued',
  recipe: { prompt: 'a fox', negativePrompt: '', model: '/m.json' },
  count: 1,
  position: 1,
  attempts: 0,
  createdAt: '2026-01-01T00:00:00.000Z',
  startedAt: null,
  finishedAt: null,
  error: null,
  imageIds: [],
  ...over,
});

class JobsPlatform extends FakePlatform {
  list: Job[] = [];
  override async call<M extends MethodName>(method: M, params?: unknown): Promise<Reply<M>> {
    if (method === 'jobs.list') {
      this.calls.push({ method, params });
      return { ok: true, result: { jobs: this.list, paused: false } } as Reply<M>;
    }
    if (method === 'jobs.enqueue') {
      const reply = await super.call('settings.get', undefined);
      this.calls.pop();
      this.calls.push({ method, params });
      if (!reply.ok) return reply as Reply<M>;
      const j = job();
      this.list = [j];
      return { ok: true, result: j } as Reply<M>;
    }
    return super.call(method, params);
  }
}

async function mountView(platform = new JobsPlatform()) {
  const wrapper = mount(GenerateView, {
    global: { plugins: [createPinia()], provide: { [clientKey as symbol]: createClient(platform) } },
  });
  await flushPromises();
  return { wrapper, platform };
}

describe('Generate view', () => {
  it('enqueues the prompt from the form', async () => {
    const { wrapper, platform } = await mountView();
    expect(wrapper.get('[data-testid="gen-submit"]').attributes('disabled')).toBeDefined();
    await wrapper.get('[data-testid="gen-prompt"]').setValue('  a fox in snow ');
    await wrapper.get('[data-testid="gen-model"]').setValue('/m.json');
    await wrapper.get('[data-testid="gen-steps"]').setValue('12');
    await wrapper.get('[data-testid="gen-count"]').setValue('2');
    await wrapper.get('[data-testid="generate-form"]').trigger('submit');
    await flushPromises();
    expect(platform.calls.at(-1)).toEqual({
      method: 'jobs.enqueue',
      params: { recipe: { prompt: 'a fox in snow', negativePrompt: '', model: '/m.json', steps: 12 }, count: 2 },
    });
  });

  it('shows the running job with progress, ETA and preview as events arrive', async () => {
    const platform = new JobsPlatform();
    platform.list = [job({ status: 'running' }), job({ id: 'j2' })];
    const { wrapper } = await mountView(platform);
    expect(wrapper.get('[data-testid="queue-count"]').text()).toBe('1 queued');
    platform.emit('onJobProgress', { id: 'j1', stage: 'sampling', image: 0, count: 1, step: 5, steps: 20, etaSeconds: 3.2 });
    platform.emit('onJobPreview', { id: 'j1', image: 0, step: 5, dataUrl: 'data:image/png;base64,AAAA' });
    await flushPromises();
    expect((wrapper.get('[data-testid="job-progress"]').element as HTMLProgressElement).getAttribute('value')).toBe('25');
    expect(wrapper.text()).toContain('4 s left');
    expect(wrapper.get('[data-testid="job-preview"]').attributes('src')).toBe('data:image/png;base64,AAAA');
  });

  it('shows a typed error when enqueueing fails', async () => {
    const { wrapper, platform } = await mountView();
    platform.failNext = { code: 'INTERNAL', message: 'the job queue is unavailable' };
    await wrapper.get('[data-testid="gen-prompt"]').setValue('x');
    await wrapper.get('[data-testid="gen-model"]').setValue('/m.json');
    await wrapper.get('[data-testid="generate-form"]').trigger('submit');
    await flushPromises();
    expect(wrapper.get('[data-testid="gen-error"]').text()).toBe('INTERNAL: the job queue is unavailable');
  });
});
