// A versioned schema migration. The library's schema version is SQLite's `PRAGMA user_version`:
// migration N moves a database from version N-1 to N, inside one transaction together with the
// version bump, so a crash mid-migration leaves the previous version intact.
import type { Database } from 'better-sqlite3';

export interface Migration {
  /** 1, 2, 3, ... with no gaps; the file is `migrations/NNN-name.ts`. */
  version: number;
  name: string;
  /** Moves the schema (and data) from version - 1 to version. Runs inside a transaction. */
  up(db: Database): void;
  /**
   * Optional: inserts representative rows at this version. The migration test seeds a database
   * at every earlier version with these, so each later migration is proven on real data.
   */
  sample?(db: Database): void;
  /** Optional: checks, after migrating to the newest version, that the sampled rows survived. */
  verifySample?(db: Database): void;
}

export class MigrationListError extends Error {
  override readonly name = 'MigrationListError';
}

/** Throws unless the migrations are numbered 1..N in order: a gap or a duplicate is a merge mistake. */
export function checkMigrationList(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new MigrationListError(`migration "${m.name}" has version ${m.version}, expected ${i + 1} (list must be 1..N in order)`);
    }
  });
}
