// The library folder: `library.db` (SQLite through better-sqlite3) and the image files beside it.
// Opening it sets WAL (readers never wait for the writer), foreign keys (SQLite leaves them off
// per connection), checks the database (a corrupt library is refused with a typed error rather
// than written to) and brings the schema up to date with the migrations.
import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3, { type Database } from 'better-sqlite3';
import { checkMigrationList, type Migration } from './migration.js';
import { LIBRARY_MIGRATIONS } from './migrations/index.js';

export const LIBRARY_DB = 'library.db';
/** Present while a studio has the library open; found at open, it means the last session died. */
export const OPEN_MARKER = 'library.db.open';

export type LibraryErrorCode =
  /** The folder or the database file cannot be opened or is not a SQLite database. */
  | 'LIBRARY_UNREADABLE'
  /** `PRAGMA quick_check` found damage. */
  | 'LIBRARY_CORRUPT'
  /** The database was written by a newer studio (schema version above what we know). */
  | 'LIBRARY_TOO_NEW'
  /** A migration threw; the database stays at the version before it. */
  | 'LIBRARY_MIGRATION_FAILED';

export class LibraryError extends Error {
  override readonly name = 'LibraryError';
  constructor(
    readonly code: LibraryErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface Library {
  /** Absolute path of the library folder. */
  folder: string;
  db: Database;
  /** The schema version after opening. */
  version: number;
  close(): void;
}

export interface OpenLibraryOptions {
  folder: string;
  /** Defaults to the studio's migration list; tests pass a prefix to build older schemas. */
  migrations?: readonly Migration[];
  readonly?: boolean;
  /**
   * `auto` (default): `PRAGMA quick_check` (every page and row, not index-vs-table agreement)
   * when the last session did not close the library (its open marker is still there), else a
   * cheap check of the header and schema. quick_check is linear in the file (about 0.7-1.4 s at
   * 100,000 images here), so a clean open skips it: SQLite in WAL mode is not damaged by a
   * killed process, and a crash is when checking pays. `quick` and `full` (`PRAGMA
   * integrity_check`) always check; `none` is for tests of other things.
   */
  check?: 'auto' | 'quick' | 'full' | 'none';
}

function schemaVersion(db: Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Applies the migrations after the database's current version, each in its own transaction. */
export function migrate(db: Database, migrations: readonly Migration[]): number {
  checkMigrationList(migrations);
  const current = schemaVersion(db);
  if (current > migrations.length) {
    throw new LibraryError(
      'LIBRARY_TOO_NEW',
      `library schema version ${current} is newer than this studio knows (${migrations.length}); update the studio`,
    );
  }
  for (const m of migrations.slice(current)) {
    const step = db.transaction(() => {
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
    });
    try {
      step();
    } catch (error) {
      throw new LibraryError(
        'LIBRARY_MIGRATION_FAILED',
        `migration ${m.version} (${m.name}) failed: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }
  return schemaVersion(db);
}

export function openLibrary(options: OpenLibraryOptions): Library {
  const folder = path.resolve(options.folder);
  const migrations = options.migrations ?? LIBRARY_MIGRATIONS;
  let db: Database;
  try {
    fs.mkdirSync(folder, { recursive: true });
    db = new BetterSqlite3(path.join(folder, LIBRARY_DB), { readonly: options.readonly ?? false });
  } catch (error) {
    throw new LibraryError('LIBRARY_UNREADABLE', `cannot open the library in ${folder}: ${String(error)}`, { cause: error });
  }
  try {
    if (!options.readonly) db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a killed process loses nothing committed; only a power cut can drop
    // the last transactions, and never corrupts the database (SQLite docs, "WAL" / synchronous).
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // A second process (the CLI, a crash-restarted writer) may hold the write lock briefly.
    db.pragma('busy_timeout = 5000');
    const marker = path.join(folder, OPEN_MARKER);
    const requested = options.check ?? 'auto';
    const check = requested === 'auto' ? (fs.existsSync(marker) ? 'quick' : 'schema') : requested;
    if (check === 'schema') {
      // Reads the header and the whole schema: a file that is not a database, or whose schema
      // pages are damaged, fails here.
      db.prepare('SELECT count(*) FROM sqlite_master').get();
    } else if (check !== 'none') {
      const rows = db.pragma(check === 'full' ? 'integrity_check' : 'quick_check', { simple: false }) as Record<string, unknown>[];
      const messages = rows.map((r) => String(Object.values(r)[0]));
      if (messages.length !== 1 || messages[0] !== 'ok') {
        throw new LibraryError('LIBRARY_CORRUPT', `library database is damaged: ${messages.slice(0, 5).join('; ')}`);
      }
    }
    const version = options.readonly ? schemaVersion(db) : migrate(db, migrations);
    if (!options.readonly) fs.writeFileSync(marker, `${process.pid}\n`);
    return {
      folder,
      db,
      version,
      close: () => {
        db.close();
        if (!options.readonly) fs.rmSync(marker, { force: true });
      },
    };
  } catch (error) {
    db.close();
    if (error instanceof LibraryError) throw error;
    // SQLITE_NOTADB and friends: the file is not a database we can use.
    throw new LibraryError('LIBRARY_UNREADABLE', `cannot open the library in ${folder}: ${String(error)}`, { cause: error });
  }
}
