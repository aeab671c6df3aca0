import { inject, type InjectionKey } from 'vue';
import type { StudioClient } from '../api/client';

export const clientKey: InjectionKey<StudioClient> = Symbol('studio-client');

/** The API client provided by the app root (main.ts), or by a test. */
export function useClient(): StudioClient {
  const client = inject(clientKey);
  if (!client) throw new Error('useClient() called outside an app that provides the studio client');
  return client;
}
