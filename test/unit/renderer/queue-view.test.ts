// @vitest-environment happy-dom
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia } from 'pinia';
import { describe, expect, it } from 'vitest';
import type { Job, MethodName, Reply } from '../../../main/api/index.js';
import { createClient } from '../../../renderer/api/client';
import { clientKey } from '../../../renderer/composables/useClient';
import QueueView from '../../../renderer/views/QueueView.vue';
import { FakePlatform } from '../support/fake-platform';

function job(i: number, status: Job['status']): Job {
  return {
    id: `j${i}`,
    status,
    recipe: { prompt: `prompt ${i}`, negativePrompt: '', model: '/m.json' },
    count: 1,
    position: i,
    attempts: 0,
    createdAt: '2026-01-01T00:00:00.000Z',
    startedAt: null,
    finishedAt: null,
    error: status === 'failed' ? { code: 'E_IO', message: 'no such manifest' } : null,
    imageIds: [],
  };
}

class QueuePlatform extends FakePlatform {
  constructor(public jobs: Job[]) {
    super();
  }
  override async call<M extends MethodName>(method: M, params?: unknown): Promise<Reply<M>> {
    if (method === 'jobs.list') {
      this.calls.push({ method, params });
      return { ok: true, result: { jobs: this.jobs, paused: false } } as Reply<M>;
    }
    if (method === 'jobs.move' || method === 'jobs.cancel' || method === 'jobs.retry') {
      const reply = await super.call(method, params);
      return reply.ok ? ({ ok: true, result: this.jobs[0] } as Reply<M>) : reply;
    }
    return super.call(method, params);
  }
}

async function mountView(platform: QueuePlatform) {
  const wrapper = mount(QueueView, { global: { plugins: [createPinia()], provide: { [clientKey as symbol]: createClient(platform) } } });
  await flushPromises();
  return wrapper;
}

const lastCall = (p: FakePlatform) => p.calls.at(-1);

describe('Queue view', () => {
  it('renders a window of a 1,000-job queue, not every row', async () => {
    const jobs = [job(0, 'running'), ...Array.from({ length: 999 }, (_, i) => job(i + 1, 'queued'))];
    const wrapper = await mountView(new QueuePlatform(jobs));
    const rows = wrapper.findAll('[data-job-id]');
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.length).toBeLessThan(60);
    expect(rows[0]!.attributes('data-job-id')).toBe('j0');
    expect(wrapper.get('[data-testid="queue-summary"]').text()).toBe('1 running, 999 queued');
  });

  it('moves queued jobs: up, down, to the top; ends have no move past them', async () => {
    const platform = new QueuePlatform([job(0, 'running'), job(1, 'queued'), job(2, 'queued'), job(3, 'queued'), job(4, 'done')]);
    const wrapper = await mountView(platform);
    const row = (id: string) => wrapper.get(`[data-job-id="${id}"]`);
    expect(row('j1').get('[data-testid="job-up"]').attributes('disabled')).toBeDefined();
    expect(row('j3').get('[data-testid="job-down"]').attributes('disabled')).toBeDefined();
    expect(row('j0').find('[data-testid="job-up"]').exists()).toBe(false);

    await row('j1').get('[data-testid="job-down"]').trigger('click');
    expect(lastCall(platform)).toEqual({ method: 'jobs.move', params: { id: 'j1', before: 'j3' } });
    await row('j2').get('[data-testid="job-down"]').trigger('click');
    expect(lastCall(platform)).toEqual({ method: 'jobs.move', params: { id: 'j2', before: null } });
    await row('j3').get('[data-testid="job-up"]').trigger('click');
    expect(lastCall(platform)).toEqual({ method: 'jobs.move', params: { id: 'j3', before: 'j2' } });
    await row('j3').get('[data-testid="job-top"]').trigger('click');
    expect(lastCall(platform)).toEqual({ method: 'jobs.move', params: { id: 'j3', before: 'j1' } });
  });

  it('cancels, retries, and shows why a job failed', async () => {
    const platform = new QueuePlatform([job(1, 'queued'), job(2, 'failed'), job(3, 'cancelled')]);
    const wrapper = await mountView(platform);
    expect(wrapper.get('[data-job-id="j2"] [data-testid="job-error"]').text()).toBe('E_IO: no such manifest');
    await wrapper.get('[data-job-id="j1"] [data-testid="job-cancel"]').trigger('click');
    expect(lastCall(platform)).toEqual({ method: 'jobs.cancel', params: { id: 'j1' } });
    await wrapper.get('[data-job-id="j3"] [data-testid="job-retry"]').trigger('click');
    expect(lastCall(platform)).toEqual({ method: 'jobs.retry', params: { id: 'j3' } });
    await wrapper.get('[data-testid="queue-filter"]').setValue('active');
    expect(wrapper.findAll('[data-job-id]').map((r) => r.attributes('data-job-id'))).toEqual(['j1']);
  });
});

describe('jobs store', () => {
  it('an event during a re-read leads to one more re-read, so the list ends current', async () => {
    const platform = new QueuePlatform([job(1, 'queued'), job(2, 'queued')]);
    const wrapper = await mountView(platform);
    const lists = () => platform.calls.filter((c) => c.method === 'jobs.list').length;
    const before = lists();
    platform.emit('onJobCancelled', { id: 'j1' });
    // The first re-read is in flight: the state changes again and a second event arrives.
    platform.jobs = [job(1, 'cancelled'), job(2, 'cancelled')];
    platform.emit('onJobCancelled', { id: 'j2' });
    platform.emit('onJobCancelled', { id: 'j2' });
    await flushPromises();
    expect(lists() - before).toBe(2);
    expect(wrapper.findAll('[data-testid="job-cancelled"]')).toHaveLength(2);
  });
});
