// The settings as the renderer sees them: loaded from, and written through, the API.
import { defineStore } from 'pinia';
import { ref } from 'vue';
import { type ApiErrorShape, type Settings, type SettingsPatch } from '@api';
import { errorShapeOf } from '../api/errors';
import { useClient } from '../composables/useClient';

export const useSettingsStore = defineStore('settings', () => {
  const client = useClient();
  const settings = ref<Settings | null>(null);
  const busy = ref(false);
  const error = ref<ApiErrorShape | null>(null);
  /** Set after a successful save, cleared by the next change. */
  const savedAt = ref<Date | null>(null);

  // Another window (or the CLI later) may change settings: follow along.
  client.on('onSettingsChanged', (next) => {
    settings.value = next;
  });

  async function run(task: () => Promise<Settings>, markSaved: boolean): Promise<boolean> {
    busy.value = true;
    error.value = null;
    try {
      settings.value = await task();
      savedAt.value = markSaved ? new Date() : savedAt.value;
      return true;
    } catch (caught) {
      error.value = errorShapeOf(caught);
      return false;
    } finally {
      busy.value = false;
    }
  }

  return {
    settings,
    busy,
    error,
    savedAt,
    load: () => run(() => client.call('settings.get'), false),
    update: (patch: SettingsPatch) => run(() => client.call('settings.update', patch), true),
    reset: () => run(() => client.call('settings.reset'), true),
  };
});
