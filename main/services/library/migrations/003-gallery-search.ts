// Search at scale and a crash-safe purge.
// - images_fts is rebuilt with prefix indexes of 1, 2 and 3 characters: every user word is a
//   prefix query ("w" matches every word starting with w), and without them FTS5 merges the
//   doclist of every matching token on each query (hundreds at 100,000 images). With them a
//   short prefix reads one precomputed doclist; longer words narrow quickly on their own.
//   FTS5 cannot add an option to an existing table, so the table is made again from `images`
//   and `image_tags`, and its triggers with it.
// - purge_journal: a purge deletes an image's row and records its file here in one transaction,
//   then unlinks the file and clears the entry. A crash in between leaves an entry that the
//   sweep finishes (removes the file) instead of adopting the file back as a live image.
import type { Database } from 'better-sqlite3';
import type { Migration } from '../migration.js';

const TAGS_OF = (imageId: string) =>
  `(SELECT coalesce(group_concat(t.name, ' '), '') FROM image_tags it JOIN tags t ON t.id = it.tag_id WHERE it.image_id = ${imageId})`;

export const gallerySearch003: Migration = {
  version: 3,
  name: 'gallery-search',
  up(db: Database) {
    db.exec(`
      DROP TRIGGER images_fts_insert;
      DROP TRIGGER images_fts_update;
      DROP TRIGGER images_fts_delete;
      DROP TRIGGER image_tags_fts_insert;
      DROP TRIGGER image_tags_fts_delete;
      DROP TABLE images_fts;

      CREATE VIRTUAL TABLE images_fts USING fts5 (
        prompt, negative_prompt, tags, tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3'
      );
      INSERT INTO images_fts (rowid, prompt, negative_prompt, tags)
        SELECT i.id, i.prompt, i.negative_prompt, ${TAGS_OF('i.id')} FROM images i;

      CREATE TRIGGER images_fts_insert AFTER INSERT ON images BEGIN
        INSERT INTO images_fts (rowid, prompt, negative_prompt, tags) VALUES (new.id, new.prompt, new.negative_prompt, '');
      END;
      CREATE TRIGGER images_fts_update AFTER UPDATE OF prompt, negative_prompt ON images BEGIN
        UPDATE images_fts SET prompt = new.prompt, negative_prompt = new.negative_prompt WHERE rowid = new.id;
      END;
      CREATE TRIGGER images_fts_delete AFTER DELETE ON images BEGIN
        DELETE FROM images_fts WHERE rowid = old.id;
      END;
      CREATE TRIGGER image_tags_fts_insert AFTER INSERT ON image_tags BEGIN
        UPDATE images_fts SET tags = ${TAGS_OF('new.image_id')} WHERE rowid = new.image_id;
      END;
      CREATE TRIGGER image_tags_fts_delete AFTER DELETE ON image_tags BEGIN
        UPDATE images_fts SET tags = ${TAGS_OF('old.image_id')} WHERE rowid = old.image_id;
      END;

      CREATE TABLE purge_journal (
        file TEXT PRIMARY KEY,   -- relative to the library folder, as images.file was
        uid  TEXT NOT NULL       -- for the thumbnail
      ) WITHOUT ROWID;
    `);
  },
  verifySample(db: Database) {
    const config = db.prepare(`SELECT sql FROM sqlite_schema WHERE name = 'images_fts'`).get() as { sql: string } | undefined;
    if (!config?.sql.includes("prefix = '1 2 3'")) throw new Error('images_fts has no prefix indexes');
    // Words of the sampled prompt and tag, by prefix, through the rebuilt index and triggers.
    const hits = db.prepare(`SELECT rowid FROM images_fts WHERE images_fts MATCH '"f"* AND "samplet"*'`).all();
    const sampled = db.prepare(`SELECT 1 FROM images WHERE uid = 'sample001'`).get();
    if (sampled && hits.length !== 1) throw new Error('the sampled image is not found by prefixes of its prompt and tag');
    // Throws (SQLITE_CORRUPT_VTAB) if the rebuilt index disagrees with its content.
    db.prepare(`INSERT INTO images_fts (images_fts, rank) VALUES ('integrity-check', 1)`).run();
    db.prepare(`SELECT count(*) FROM purge_journal`).get();
  },
};
