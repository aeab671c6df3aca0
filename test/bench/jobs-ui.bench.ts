// @vitest-environment happy-dom
// How the Queue view keeps up with 1,000 jobs in the queue: the cost of one progress event
// (the common case, many per second) and of one lifecycle event (re-list 1,000 jobs and
// re-render), from the event to the DOM being updated.
//   npx vitest bench --run test/bench/jobs-ui.bench.ts --outputJson /tmp/jobs-ui.json (medians in the JSON)
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia } from 'pinia';
import { bench, describe } from 'vitest';
import { nextTick } from 'vue';
import type { Job, MethodName, Reply } from '../../main/api/index.js';
import { createClient } from '../../renderer/api/client';
import { clientKey } from '../../renderer/composables/useClient';
import QueueView from '../../renderer/views/QueueView.vue';
import { FakePlatform } from '../unit/support/fake-platform';

const jobs: Job[] = Array.from({ length: 1000 }, (_, i) => ({
  id: `j${i}`,
  status: i === 0 ? 'running' : 'queued',
  recipe: { prompt: `prompt ${i}`, negativePrompt: '', model: '/m.json' },
  count: 1,
  position: i,
  attempts: 0,
  createdAt: '2026-01-01T00:00:00.000Z',
  startedAt: null,
  finishedAt: null,
  error: null,
  imageIds: [],
}));

class ListPlatform extends FakePlatform {
  override async call<M extends MethodName>(method: M, params?: unknown): Promise<Reply<M>> {
    // A fresh array, as a real reply is: the view must re-render the whole list.
    if (method === 'jobs.list') return { ok: true, result: { jobs: jobs.slice(), paused: false } } as Reply<M>;
    return super.call(method, params);
  }
}

const platform = new ListPlatform();
const wrapper = mount(QueueView, {
  global: { plugins: [createPinia()], provide: { [clientKey as symbol]: createClient(platform) } },
});
await flushPromises();
let step = 0;

describe('Queue view with 1,000 queued jobs', () => {
  bench('progress event -> DOM updated', async () => {
    step = (step % 100) + 1;
    platform.emit('onJobProgress', { id: 'j0', stage: 'sampling', image: 0, count: 1, step, steps: 100, etaSeconds: 5 });
    await nextTick();
  });
  bench('lifecycle event (re-list 1,000, re-render) -> DOM updated', async () => {
    platform.emit('onJobDone', { id: 'j1', imageIds: [] });
    await flushPromises();
    await nextTick();
  });
});
void wrapper;
