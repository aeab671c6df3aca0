// @vitest-environment happy-dom
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia } from 'pinia';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../../../main/api/index.js';
import { createClient } from '../../../renderer/api/client';
import { clientKey } from '../../../renderer/composables/useClient';
import SettingsView from '../../../renderer/views/SettingsView.vue';
import { FakePlatform } from '../support/fake-platform';

async function mountView(platform = new FakePlatform()) {
  const wrapper = mount(SettingsView, {
    global: { plugins: [createPinia()], provide: { [clientKey as symbol]: createClient(platform) } },
  });
  await flushPromises();
  return { wrapper, platform };
}

describe('Settings view', () => {
  it('shows the stored settings', async () => {
    const platform = new FakePlatform();
    platform.settings = { ...DEFAULT_SETTINGS, theme: 'dark', defaultSteps: 31 };
    const { wrapper } = await mountView(platform);
    expect((wrapper.get('[data-testid="setting-theme"]').element as HTMLSelectElement).value).toBe('dark');
    expect((wrapper.get('[data-testid="setting-steps"]').element as HTMLInputElement).value).toBe('31');
  });

  it('saves only what changed, through the API', async () => {
    const { wrapper, platform } = await mountView();
    expect(wrapper.get('[data-testid="settings-save"]').attributes('disabled')).toBeDefined();
    await wrapper.get('[data-testid="setting-backend"]').setValue('vulkan');
    await wrapper.get('[data-testid="setting-steps"]').setValue('12');
    await wrapper.get('[data-testid="setting-memory"]').setValue('6');
    await wrapper.get('[data-testid="settings-form"]').trigger('submit');
    await flushPromises();
    expect(platform.calls.filter((c) => c.method === 'settings.update').at(-1)).toEqual({
      method: 'settings.update',
      params: { backend: 'vulkan', defaultSteps: 12, memoryLimitGiB: 6 },
    });
    expect(platform.settings).toMatchObject({ backend: 'vulkan', defaultSteps: 12, memoryLimitGiB: 6 });
    expect(wrapper.find('[data-testid="settings-saved"]').exists()).toBe(true);
  });

  it('shows a typed error when saving fails, keeping the edit', async () => {
    const { wrapper, platform } = await mountView();
    await wrapper.get('[data-testid="setting-backend"]').setValue('cpu');
    platform.failNext = { code: 'INTERNAL', message: 'disk full' };
    await wrapper.get('[data-testid="settings-form"]').trigger('submit');
    await flushPromises();
    expect(wrapper.get('[data-testid="settings-error"]').text()).toBe('INTERNAL: disk full');
    expect((wrapper.get('[data-testid="setting-backend"]').element as HTMLSelectElement).value).toBe('cpu');
  });

  it('saves the theme at once, keeping other edits in progress', async () => {
    const { wrapper, platform } = await mountView();
    await wrapper.get('[data-testid="setting-steps"]').setValue('9');
    await wrapper.get('[data-testid="setting-theme"]').setValue('dark');
    await flushPromises();
    expect(platform.calls.filter((c) => c.method === 'settings.update')).toEqual([{ method: 'settings.update', params: { theme: 'dark' } }]);
    expect(platform.settings.theme).toBe('dark');
    expect((wrapper.get('[data-testid="setting-steps"]').element as HTMLInputElement).value).toBe('9');
    expect(wrapper.get('[data-testid="settings-save"]').attributes('disabled')).toBeUndefined();
  });

  it('follows changes made elsewhere', async () => {
    const { wrapper, platform } = await mountView();
    platform.emit('onSettingsChanged', { ...DEFAULT_SETTINGS, theme: 'light' });
    await flushPromises();
    expect((wrapper.get('[data-testid="setting-theme"]').element as HTMLSelectElement).value).toBe('light');
  });

  it('resets to the defaults', async () => {
    const platform = new FakePlatform();
    platform.settings = { ...DEFAULT_SETTINGS, previewEvery: 0 };
    const { wrapper } = await mountView(platform);
    await wrapper.get('[data-testid="settings-reset"]').trigger('click');
    await flushPromises();
    expect(platform.settings).toEqual(DEFAULT_SETTINGS);
    expect((wrapper.get('[data-testid="setting-preview"]').element as HTMLInputElement).value).toBe('5');
  });
});
