// @vitest-environment happy-dom
// The Generate view against the jobs API: a failed enqueue is shown with its code. (The form,
// progress and previews are covered by test/unit/renderer/generate-view.test.ts, written with the
// full view that replaced the first minimal one.)
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
