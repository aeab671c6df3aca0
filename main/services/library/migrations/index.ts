// Every migration of library.db, in order. Add a new one at the end (see ../README.md).
import type { Migration } from '../migration.js';
import { gallery001 } from './001-gallery.js';

export const LIBRARY_MIGRATIONS: readonly Migration[] = [gallery001];
