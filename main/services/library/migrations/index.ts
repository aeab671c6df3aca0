// Every migration of library.db, in order. Add a new one at the end (see ../README.md).
import type { Migration } from '../migration.js';
import { gallery001 } from './001-gallery.js';
import { jobs002 } from './002-jobs.js';
import { gallerySearch003 } from './003-gallery-search.js';

export const LIBRARY_MIGRATIONS: readonly Migration[] = [gallery001, jobs002, gallerySearch003];
