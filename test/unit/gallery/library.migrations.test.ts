import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { LIBRARY_DB, LibraryError, OPEN_MARKER, migrate, openLibrary } from '../../../main/services/library/library.js';
import { checkMigrationList, type Migration } from '../../../main/services/library/migration.js';
import { LIBRARY_MIGRATIONS } from '../../../main/services/library/migrations/index.js';
import { useTempFolders } from '../support/temp.js';

const tempFolder = useTempFolders();

/** A library.db at schema version `upTo`, with every migration's sample rows inserted on the way. */
function databaseAt(folder: string, upTo: number): void {
  const db = new BetterSqlite3(path.join(folder, LIBRARY_DB));
  db.pragma('foreign_keys = ON');
  for (const m of LIBRARY_MIGRATIONS.slice(0, upTo)) {
    migrate(db, LIBRARY_MIGRATIONS.slice(0, m.version));
    m.sample?.(db);
  }
  db.close();
}

describe('library migrations', () => {
  it('are numbered 1..N in order', () => {
    expect(() => checkMigrationList(LIBRARY_MIGRATIONS)).not.toThrow();
    expect(LIBRARY_MIGRATIONS.length).toBeGreaterThan(0);
  });

  // Each migration is proven from every earlier schema, with the earlier versions' data present.
  for (let from = 0; from < LIBRARY_MIGRATIONS.length; from++) {
    it(`migrate from version ${from} to ${LIBRARY_MIGRATIONS.length} keeps the sampled data`, () => {
      const folder = tempFolder();
      databaseAt(folder, from);
      const lib = openLibrary({ folder, check: 'full' });
      try {
        expect(lib.version).toBe(LIBRARY_MIGRATIONS.length);
        expect(lib.db.pragma('foreign_key_check')).toEqual([]);
        for (const m of LIBRARY_MIGRATIONS.slice(0, from)) m.verifySample?.(lib.db);
        // The newest schema takes every migration's sample too.
        for (const m of LIBRARY_MIGRATIONS.slice(from)) {
          if (m.sample && !lib.db.prepare(`SELECT 1 FROM images WHERE uid = 'sample001'`).get()) m.sample(lib.db);
        }
        for (const m of LIBRARY_MIGRATIONS) m.verifySample?.(lib.db);
        expect(lib.db.pragma('integrity_check', { simple: true })).toBe('ok');
      } finally {
        lib.close();
      }
    });
  }

  it('opens with WAL and foreign keys on, and opening again changes nothing', () => {
    const folder = tempFolder();
    openLibrary({ folder }).close();
    const lib = openLibrary({ folder });
    expect(lib.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(lib.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(lib.version).toBe(LIBRARY_MIGRATIONS.length);
    lib.close();
  });

  it('refuses a library written by a newer studio', () => {
    const folder = tempFolder();
    openLibrary({ folder }).close();
    const db = new BetterSqlite3(path.join(folder, LIBRARY_DB));
    db.pragma(`user_version = ${LIBRARY_MIGRATIONS.length + 1}`);
    db.close();
    expect(() => openLibrary({ folder })).toThrow(expect.objectContaining({ code: 'LIBRARY_TOO_NEW' }));
  });

  it('a failing migration leaves the database at the version before it', () => {
    const folder = tempFolder();
    openLibrary({ folder }).close();
    const broken: Migration = {
      version: LIBRARY_MIGRATIONS.length + 1,
      name: 'broken',
      up(db) {
        db.exec('CREATE TABLE half_done (x)');
        throw new Error('boom');
      },
    };
    expect(() => openLibrary({ folder, migrations: [...LIBRARY_MIGRATIONS, broken] })).toThrow(
      expect.objectContaining({ code: 'LIBRARY_MIGRATION_FAILED' }),
    );
    const lib = openLibrary({ folder });
    expect(lib.version).toBe(LIBRARY_MIGRATIONS.length);
    expect(lib.db.prepare(`SELECT name FROM sqlite_master WHERE name = 'half_done'`).get()).toBeUndefined();
    lib.close();
  });

  it('rejects a migration list with a gap', () => {
    const m = (version: number): Migration => ({ version, name: `m${version}`, up: () => undefined });
    expect(() => checkMigrationList([m(1), m(3)])).toThrow(/expected 2/);
  });

  it('refuses a file that is not a database, without touching it', () => {
    const folder = tempFolder();
    const junk = Buffer.from('this is not sqlite '.repeat(300));
    fs.writeFileSync(path.join(folder, LIBRARY_DB), junk);
    let caught: unknown;
    try {
      openLibrary({ folder });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(LibraryError);
    expect((caught as LibraryError).code).toBe('LIBRARY_UNREADABLE');
    expect(fs.readFileSync(path.join(folder, LIBRARY_DB)).equals(junk)).toBe(true);
  });

  it('refuses a damaged database as LIBRARY_CORRUPT', () => {
    const folder = tempFolder();
    const lib = openLibrary({ folder });
    const insert = lib.db.prepare(
      `INSERT INTO images (uid, file, width, height, bytes, content_hash, created_at, source, prompt) VALUES (?, ?, 1, 1, 1, 'h', ?, 'imported', ?)`,
    );
    lib.db.transaction(() => {
      for (let i = 0; i < 2000; i++) insert.run(`u${i}`, `f${i}`, i, 'a prompt that fills pages '.repeat(4));
    })();
    lib.db.pragma('wal_checkpoint(TRUNCATE)');
    lib.close();
    // Scribble over the middle of the file: b-tree pages, not the header.
    const file = path.join(folder, LIBRARY_DB);
    const bytes = fs.readFileSync(file);
    const page = 4096;
    for (let p = 5; p < 12; p++) bytes.fill(0x5a, p * page + 16, p * page + page - 16);
    fs.writeFileSync(file, bytes);
    expect(() => openLibrary({ folder, check: 'quick' })).toThrow(expect.objectContaining({ code: 'LIBRARY_CORRUPT' }));
    // After an unclean shutdown (the open marker left behind) the default open checks every page too.
    fs.writeFileSync(path.join(folder, OPEN_MARKER), '1\n');
    expect(() => openLibrary({ folder })).toThrow(expect.objectContaining({ code: 'LIBRARY_CORRUPT' }));
  });

  it('marks the library open until it is closed', () => {
    const folder = tempFolder();
    const lib = openLibrary({ folder });
    expect(fs.existsSync(path.join(folder, OPEN_MARKER))).toBe(true);
    lib.close();
    expect(fs.existsSync(path.join(folder, OPEN_MARKER))).toBe(false);
  });
});
