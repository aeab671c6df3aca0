// @vitest-environment happy-dom
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia } from 'pinia';
import { describe, expect, it } from 'vitest';
import App from '../../../renderer/App.vue';
import { createClient } from '../../../renderer/api/client';
import { clientKey } from '../../../renderer/composables/useClient';
import { VIEWS, viewFromHash } from '../../../renderer/stores/navigation';
import { FakePlatform } from '../support/fake-platform';

describe('viewFromHash', () => {
  it('reads the view from the address and falls back to Generate', () => {
    expect(viewFromHash('#/models')).toBe('models');
    expect(viewFromHash('')).toBe('generate');
    expect(viewFromHash('#/nowhere')).toBe('generate');
  });
});

describe('app frame', () => {
  it('navigates to every view, keeping it in the address; each shows its own empty state', async () => {
    window.location.hash = '';
    const wrapper = mount(App, {
      global: { plugins: [createPinia()], provide: { [clientKey as symbol]: createClient(new FakePlatform()) } },
    });
    await flushPromises();
    for (const view of VIEWS) {
      await wrapper.get(`[data-testid="nav-${view.id}"]`).trigger('click');
      await flushPromises();
      expect(wrapper.get('[data-testid="view"]').attributes('data-view')).toBe(view.id);
      expect(window.location.hash).toBe(`#/${view.id}`);
      expect(wrapper.get(`[data-testid="nav-${view.id}"]`).attributes('aria-current')).toBe('page');
      if (view.id === 'settings') expect(wrapper.find('[data-testid="settings-form"]').exists()).toBe(true);
      else if (view.id === 'generate') expect(wrapper.find('[data-testid="generate-form"]').exists()).toBe(true);
      else if (view.id === 'models') expect(wrapper.find('[data-testid="models-add"]').exists()).toBe(true);
      else if (view.id === 'gallery') expect(wrapper.get('[data-testid="gallery-empty"]').text()).toMatch(/No images yet/);
      else if (view.id === 'queue') expect(wrapper.get('[data-testid="queue-empty"]').text()).toMatch(/No jobs yet/);
      else if (view.id === 'tune') expect(wrapper.get('[data-testid="tune-empty"]').text()).toMatch(/No runs yet/);
      else throw new Error(`no check for view ${(view as { id: string }).id}`);
    }
    expect(wrapper.get('[data-testid="app-mode"]').text()).toContain('browser mode');
  });
});
