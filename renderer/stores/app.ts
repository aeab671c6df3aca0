// Facts about the running studio (version, shell, user-data folder), for the frame and Settings.
import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { AppInfo } from '@api';
import { useClient } from '../composables/useClient';

export const useAppStore = defineStore('app', () => {
  const client = useClient();
  const info = ref<AppInfo | null>(null);
  const unreachable = ref<string | null>(null);

  async function load(): Promise<void> {
    try {
      info.value = await client.call('app.info');
      unreachable.value = null;
    } catch (error) {
      unreachable.value = error instanceof Error ? error.message : String(error);
    }
  }

  return { info, unreachable, load };
});
