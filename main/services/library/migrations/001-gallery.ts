// The gallery's tables: images with their full recipe, tags, collections and full-text search.
// Favourite and rating are columns of `images` rather than tables of their own: one value per
// image, and list sorts/filters on them then use a plain index.
import type { Database } from 'better-sqlite3';
import type { Migration } from '../migration.js';

export const gallery001: Migration = {
  version: 1,
  name: 'gallery',
  up(db: Database) {
    db.exec(`
      CREATE TABLE images (
        id              INTEGER PRIMARY KEY,
        uid             TEXT NOT NULL UNIQUE,        -- public id (hex), stable across export/import
        file            TEXT NOT NULL UNIQUE,        -- path relative to the library folder, '/'-separated
        width           INTEGER NOT NULL,
        height          INTEGER NOT NULL,
        bytes           INTEGER NOT NULL,
        content_hash    TEXT NOT NULL,               -- sha256 hex of the file's bytes
        created_at      INTEGER NOT NULL,            -- ms since the epoch
        source          TEXT NOT NULL CHECK (source IN ('generated', 'imported')),
        has_recipe      INTEGER NOT NULL DEFAULT 0 CHECK (has_recipe IN (0, 1)),
        prompt          TEXT NOT NULL DEFAULT '',
        negative_prompt TEXT NOT NULL DEFAULT '',
        seed            TEXT NOT NULL DEFAULT '',    -- decimal string (seeds go past 2^53); '' unknown
        steps           INTEGER,
        guidance        REAL,
        sampler         TEXT,
        model_id        TEXT NOT NULL DEFAULT '',    -- '' unknown (no NULLs in sort keys: keyset rows compare)
        model_name      TEXT,
        model_hash      TEXT,
        adapters        TEXT NOT NULL DEFAULT '[]',  -- JSON [{id, hash, weight}]
        engine_version  TEXT,
        backend         TEXT,
        duration_ms     INTEGER,
        recipe_json     TEXT,                        -- the exact recipe as embedded (recall uses it)
        rating          INTEGER NOT NULL DEFAULT 0 CHECK (rating BETWEEN 0 AND 5),
        favourite       INTEGER NOT NULL DEFAULT 0 CHECK (favourite IN (0, 1)),
        trashed_at      INTEGER                      -- NULL while live; set when moved to the trash
      );
      -- Keyset pagination: every list sort ends in id, and live images are what lists show.
      CREATE INDEX images_live_created ON images (created_at, id) WHERE trashed_at IS NULL;
      CREATE INDEX images_live_rating ON images (rating, created_at, id) WHERE trashed_at IS NULL;
      CREATE INDEX images_live_model ON images (model_id, created_at, id) WHERE trashed_at IS NULL;
      CREATE INDEX images_live_prompt ON images (prompt, id) WHERE trashed_at IS NULL;
      -- Numeric order of decimal strings without a number column: shorter first, then by text.
      CREATE INDEX images_live_seed ON images (length(seed), seed, id) WHERE trashed_at IS NULL;
      CREATE INDEX images_seed ON images (seed);
      CREATE INDEX images_trashed ON images (trashed_at, id) WHERE trashed_at IS NOT NULL;
      CREATE INDEX images_hash ON images (content_hash);

      CREATE TABLE tags (
        id   INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE
      );
      CREATE TABLE image_tags (
        image_id INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
        tag_id   INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
        PRIMARY KEY (image_id, tag_id)
      ) WITHOUT ROWID;
      CREATE INDEX image_tags_tag ON image_tags (tag_id, image_id);

      CREATE TABLE collections (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE collection_images (
        collection_id INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
        image_id      INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
        added_at      INTEGER NOT NULL,
        PRIMARY KEY (collection_id, image_id)
      ) WITHOUT ROWID;
      CREATE INDEX collection_images_image ON collection_images (image_id);

      -- Full-text search over prompts and tags; rowid = images.id. Kept by the triggers below so
      -- no code path can forget it.
      CREATE VIRTUAL TABLE images_fts USING fts5 (prompt, negative_prompt, tags, tokenize = 'unicode61 remove_diacritics 2');

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
        UPDATE images_fts SET tags = (
          SELECT coalesce(group_concat(t.name, ' '), '') FROM image_tags it JOIN tags t ON t.id = it.tag_id WHERE it.image_id = new.image_id
        ) WHERE rowid = new.image_id;
      END;
      CREATE TRIGGER image_tags_fts_delete AFTER DELETE ON image_tags BEGIN
        UPDATE images_fts SET tags = (
          SELECT coalesce(group_concat(t.name, ' '), '') FROM image_tags it JOIN tags t ON t.id = it.tag_id WHERE it.image_id = old.image_id
        ) WHERE rowid = old.image_id;
      END;
    `);
  },
  sample(db: Database) {
    db.prepare(
      `INSERT INTO images (uid, file, width, height, bytes, content_hash, created_at, source, has_recipe, prompt, seed, steps, guidance, sampler, model_id)
       VALUES ('sample001', 'images/sample/sample001.png', 8, 8, 100, 'ab', 1, 'generated', 1, 'a sampled fox', '18446744073709551615', 20, 4.5, 'dpm++2m', 'dimba-l-512')`,
    ).run();
    db.prepare(`INSERT INTO tags (name) VALUES ('sampletag')`).run();
    db.prepare(`INSERT INTO image_tags (image_id, tag_id) SELECT i.id, t.id FROM images i, tags t WHERE i.uid = 'sample001'`).run();
    db.prepare(`INSERT INTO collections (name, created_at) VALUES ('sample collection', 1)`).run();
    db.prepare(
      `INSERT INTO collection_images (collection_id, image_id, added_at) SELECT c.id, i.id, 1 FROM collections c, images i WHERE i.uid = 'sample001'`,
    ).run();
  },
  verifySample(db: Database) {
    const row = db.prepare(`SELECT seed FROM images WHERE uid = 'sample001'`).get() as { seed: string } | undefined;
    if (row?.seed !== '18446744073709551615') throw new Error('sampled image lost or its seed changed');
    const hit = db.prepare(`SELECT rowid FROM images_fts WHERE images_fts MATCH 'fox AND sampletag'`).all();
    if (hit.length !== 1) throw new Error('sampled image not found by prompt and tag');
  },
};
