// Both JobStore implementations, so one suite states the queue's semantics for each.
import { openLibrary } from '../../../main/services/library/library.js';
import type { JobStore } from '../../../main/services/jobs/jobs.js';
import { createMemoryJobStore } from '../../../main/services/jobs/store.memory.js';
import { createSqliteJobStore } from '../../../main/services/jobs/store.sqlite.js';

export interface StoreFixture {
  name: string;
  /** Opens the store in `folder`; opening the same folder again sees the same jobs (sqlite only). */
  open(folder: string): { store: JobStore; close(): void };
  persistent: boolean;
}

export const memoryStore: StoreFixture = {
  name: 'memory',
  persistent: false,
  open: () => ({ store: createMemoryJobStore(), close: () => undefined }),
};

export const sqliteStore: StoreFixture = {
  name: 'sqlite',
  persistent: true,
  open(folder) {
    // The real library database with every migration, as the studio opens it.
    const lib = openLibrary({ folder, check: 'none' });
    return { store: createSqliteJobStore(lib.db), close: () => lib.close() };
  },
};
