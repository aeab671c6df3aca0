// Gallery rows in library.db (schema: ../library/migrations/001-gallery.ts). Lists page by
// keyset (the last row's sort key and id in an opaque cursor), never by OFFSET, so page N costs
// what page 1 costs and a writer adding images does not shift or repeat a reader's pages.
import type { Database, Statement } from 'better-sqlite3';
import type { GalleryCollection, GalleryImage, GalleryListQuery, GalleryModelFacet, GalleryPage, GallerySort } from '../../api/gallery.js';
import { GalleryError, type ImageRecords, type NewImageRow } from './records.js';

const TAG_SEPARATOR = '\u001f';

interface ImageRow {
  uid: string;
  file: string;
  width: number;
  height: number;
  bytes: number;
  content_hash: string;
  created_at: number;
  source: GalleryImage['source'];
  has_recipe: number;
  prompt: string;
  negative_prompt: string;
  seed: string;
  steps: number | null;
  guidance: number | null;
  sampler: string | null;
  model_id: string;
  model_name: string | null;
  model_hash: string | null;
  adapters: string;
  engine_version: string | null;
  backend: string | null;
  duration_ms: number | null;
  rating: number;
  favourite: number;
  trashed_at: number | null;
  tag_list: string | null;
  collection_list: string | null;
}

const COLUMNS = `i.uid, i.file, i.width, i.height, i.bytes, i.content_hash, i.created_at, i.source, i.has_recipe,
  i.prompt, i.negative_prompt, i.seed, i.steps, i.guidance, i.sampler, i.model_id, i.model_name, i.model_hash,
  i.adapters, i.engine_version, i.backend, i.duration_ms, i.rating, i.favourite, i.trashed_at,
  (SELECT group_concat(t.name, char(31)) FROM image_tags it JOIN tags t ON t.id = it.tag_id WHERE it.image_id = i.id) AS tag_list,
  (SELECT group_concat(ci.collection_id) FROM collection_images ci WHERE ci.image_id = i.id) AS collection_list`;

/** Sort keys; each ends in id so that the order is total and the keyset cursor exact. */
const SORT_KEYS: Record<GallerySort, readonly string[]> = {
  created: ['i.created_at', 'i.id'],
  rating: ['i.rating', 'i.created_at', 'i.id'],
  prompt: ['i.prompt', 'i.id'],
  model: ['i.model_id', 'i.created_at', 'i.id'],
  seed: ['length(i.seed)', 'i.seed', 'i.id'],
};

function parseAdapters(json: string): GalleryImage['recipe']['adapters'] {
  try {
    const value: unknown = JSON.parse(json);
    if (!Array.isArray(value)) return [];
    return value.filter(
      (a): a is { id: string; hash: string; weight: number } =>
        typeof a === 'object' && a !== null && typeof a.id === 'string' && typeof a.hash === 'string' && typeof a.weight === 'number',
    );
  } catch {
    return [];
  }
}

function toImage(r: ImageRow): GalleryImage {
  return {
    uid: r.uid,
    file: r.file,
    width: r.width,
    height: r.height,
    bytes: r.bytes,
    contentHash: r.content_hash,
    createdAt: r.created_at,
    source: r.source,
    hasRecipe: r.has_recipe === 1,
    recipe: {
      prompt: r.prompt,
      negativePrompt: r.negative_prompt,
      seed: r.seed === '' ? null : r.seed,
      steps: r.steps,
      guidance: r.guidance,
      sampler: r.sampler,
      width: r.has_recipe ? r.width : null,
      height: r.has_recipe ? r.height : null,
      model: r.model_id === '' ? null : { id: r.model_id, name: r.model_name ?? r.model_id, hash: r.model_hash ?? '' },
      adapters: parseAdapters(r.adapters),
      engineVersion: r.engine_version,
      backend: r.backend,
    },
    durationMs: r.duration_ms,
    rating: r.rating,
    favourite: r.favourite === 1,
    trashedAt: r.trashed_at,
    tags: r.tag_list ? r.tag_list.split(TAG_SEPARATOR).sort() : [],
    collectionIds: r.collection_list ? r.collection_list.split(',').map(Number).sort((a, b) => a - b) : [],
  };
}

/**
 * User text to an FTS5 query that cannot be a syntax error: the words (letters, digits) each
 * quoted as a prefix term, all required. Operators and quotes in the input are just separators.
 */
export function ftsQuery(text: string): string | undefined {
  const words = text.match(/[\p{L}\p{N}_]+/gu)?.slice(0, 32);
  if (!words?.length) return undefined;
  return words.map((w) => `"${w}"*`).join(' ');
}

type Hit = { id: number } & Record<string, string | number>;

/** A search matching at most this many images sorts them; more walk the sort's index. */
const SORT_ALL_UP_TO = 4096;
const WALK_BATCH = 512;
/** Dense matches are probed in sort order this many rows at a time, at most PROBE_LIMIT rows. */
const PROBE_BATCH = 128;
const PROBE_LIMIT = 512;

/** Which of a batch's ids are in the match set; null: give up on this way of asking. */
type Membership = (ids: number[]) => ((id: number) => boolean) | null;

/** The keyset condition "after this row" for a sort key list. */
function keysetAfter(keys: readonly string[], order: 'asc' | 'desc'): string {
  return `(${keys.join(', ')}) ${order === 'desc' ? '<' : '>'} (${keys.map(() => '?').join(', ')})`;
}

function countParams(sql: string): number {
  return (sql.match(/\?/g) ?? []).length;
}

function encodeCursor(sort: GallerySort, order: string, keys: readonly unknown[]): string {
  return Buffer.from(JSON.stringify([sort, order, ...keys]), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, sort: GallerySort, order: string): (string | number)[] {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new GalleryError('INVALID_CURSOR', 'the cursor is not one this gallery made');
  }
  const width = SORT_KEYS[sort].length;
  if (
    !Array.isArray(value) ||
    value.length !== width + 2 ||
    value[0] !== sort ||
    value[1] !== order ||
    !value.slice(2).every((k) => typeof k === 'string' || (typeof k === 'number' && Number.isFinite(k)))
  ) {
    throw new GalleryError('INVALID_CURSOR', 'the cursor does not belong to this sort and order');
  }
  return value.slice(2) as (string | number)[];
}

export function createSqliteImageRecords(db: Database): ImageRecords {
  const cache = new Map<string, Statement>();
  const stmt = (sql: string): Statement => {
    let s = cache.get(sql);
    if (!s) {
      s = db.prepare(sql);
      cache.set(sql, s);
    }
    return s;
  };
  const idOf = (uid: string): number => {
    const row = stmt('SELECT id FROM images WHERE uid = ?').get(uid) as { id: number } | undefined;
    if (!row) throw new GalleryError('NOT_FOUND', `no image ${uid}`);
    return row.id;
  };
  const get = (uid: string): GalleryImage | undefined => {
    const row = stmt(`SELECT ${COLUMNS} FROM images i WHERE i.uid = ?`).get(uid) as ImageRow | undefined;
    return row && toImage(row);
  };
  const must = (uid: string): GalleryImage => {
    const image = get(uid);
    if (!image) throw new GalleryError('NOT_FOUND', `no image ${uid}`);
    return image;
  };
  const tagId = (name: string): number => {
    stmt('INSERT INTO tags (name) VALUES (?) ON CONFLICT (name) DO NOTHING').run(name);
    return (stmt('SELECT id FROM tags WHERE name = ?').get(name) as { id: number }).id;
  };
  const cleanTags = (tags: readonly string[]): string[] => {
    const out = tags.map((t) => t.trim().replace(/\s+/g, ' ')).filter((t) => t.length > 0);
    for (const t of out) if (t.length > 200) throw new GalleryError('INVALID_INPUT', 'a tag is at most 200 characters');
    return [...new Set(out)];
  };
  const addTagsTo = (id: number, tags: readonly string[]) => {
    for (const t of cleanTags(tags)) stmt('INSERT OR IGNORE INTO image_tags (image_id, tag_id) VALUES (?, ?)').run(id, tagId(t));
  };
  const inBatches = (uids: readonly string[], sql: (marks: string) => string, params: readonly unknown[] = []): number => {
    let changed = 0;
    for (let i = 0; i < uids.length; i += 500) {
      const batch = uids.slice(i, i + 500);
      changed += db.prepare(sql(batch.map(() => '?').join(','))).run(...params, ...batch).changes;
    }
    return changed;
  };

  const insert = db.transaction((row: NewImageRow): GalleryImage => {
    const r = row.recipe;
    const info = stmt(
      `INSERT INTO images (uid, file, width, height, bytes, content_hash, created_at, source, has_recipe, prompt,
        negative_prompt, seed, steps, guidance, sampler, model_id, model_name, model_hash, adapters, engine_version,
        backend, duration_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      row.uid,
      row.file,
      row.width,
      row.height,
      row.bytes,
      row.contentHash,
      row.createdAt,
      row.source,
      row.hasRecipe ? 1 : 0,
      r.prompt,
      r.negativePrompt,
      r.seed ?? '',
      r.steps,
      r.guidance,
      r.sampler,
      r.model?.id ?? '',
      r.model?.name ?? null,
      r.model?.hash ?? null,
      JSON.stringify(r.adapters),
      r.engineVersion,
      r.backend,
      row.durationMs,
    );
    if (row.tags?.length) addTagsTo(Number(info.lastInsertRowid), row.tags);
    return must(row.uid);
  });

  const list = (q: GalleryListQuery): GalleryPage => {
    const where: string[] = [q.trashed ? 'i.trashed_at IS NOT NULL' : 'i.trashed_at IS NULL'];
    const params: unknown[] = [];
    // Text is matched below: a date-sorted search streams the FTS matches (streamByDate), other
    // sorts sort few matches or walk their index for many (walkIndex).
    const match = q.text === undefined ? undefined : ftsQuery(q.text);
    const stream = match !== undefined && q.sort === 'created';
    if (q.modelId !== undefined) {
      where.push('i.model_id = ?');
      params.push(q.modelId);
    }
    if (q.seed !== undefined) {
      where.push('i.seed = ?');
      params.push(q.seed);
    }
    if (q.collectionId !== undefined) {
      where.push('i.id IN (SELECT image_id FROM collection_images WHERE collection_id = ?)');
      params.push(q.collectionId);
    }
    if (q.tag !== undefined) {
      where.push('i.id IN (SELECT it.image_id FROM image_tags it JOIN tags t ON t.id = it.tag_id WHERE t.name = ?)');
      params.push(q.tag.trim());
    }
    if (q.minRating !== undefined) {
      where.push('i.rating >= ?');
      params.push(q.minRating);
    }
    if (q.favourite !== undefined) {
      where.push('i.favourite = ?');
      params.push(q.favourite ? 1 : 0);
    }
    if (q.createdFrom !== undefined) {
      where.push('i.created_at >= ?');
      params.push(q.createdFrom);
    }
    if (q.createdBefore !== undefined) {
      where.push('i.created_at < ?');
      params.push(q.createdBefore);
    }
    const keys = SORT_KEYS[q.sort];
    const dir = q.order === 'desc' ? 'DESC' : 'ASC';
    if (q.cursor !== undefined) {
      const after = decodeCursor(q.cursor, q.sort, q.order);
      where.push(keysetAfter(keys, q.order));
      params.push(...after);
    }
    // Two steps: the page's ids and sort keys first (only index and FTS work), then the full
    // rows of just that page. A search in another sort either sorts its matches (few) or walks
    // the sort's index and keeps the matches (many: see walkIndex); it never sorts 100,000.
    const sorted = (conditions: readonly string[], values: readonly unknown[]) =>
      stmt(
        `SELECT i.id, ${keys.map((k, n) => `${k} AS k${n}`).join(', ')} FROM images i
         WHERE ${conditions.join(' AND ')} ORDER BY ${keys.map((k) => `${k} ${dir}`).join(', ')} LIMIT ?`,
      ).all(...values, q.limit + 1) as Hit[];
    let hits: Hit[];
    if (match === undefined) hits = sorted(where, params);
    else if (stream) hits = streamByDate(match, where, params, q.order, q.limit + 1);
    else if (manyMatches(match)) {
      const walk = (member: Membership, batch: number) => walkIndex(member, batch, keys, where, params, q.order, q.limit + 1);
      hits = (!matchSetCached(match) && denseMatches(match) && walk(probe(match), PROBE_BATCH)) || walk(inSet(matchSet(match)), WALK_BATCH)!;
    }
    else hits = sorted([...where, 'i.id IN (SELECT rowid FROM images_fts WHERE images_fts MATCH ?)'], [...params, match]);
    const page = hits.slice(0, q.limit);
    const byId = new Map<number, ImageRow>();
    if (page.length > 0) {
      const rows = stmt(`SELECT i.id, ${COLUMNS} FROM images i WHERE i.id IN (SELECT value FROM json_each(?))`).all(
        JSON.stringify(page.map((h) => h.id)),
      ) as (ImageRow & { id: number })[];
      for (const row of rows) byId.set(row.id, row);
    }
    const items = page.flatMap((h) => {
      const row = byId.get(h.id);
      return row ? [toImage(row)] : [];
    });
    const last = page[page.length - 1];
    const nextCursor =
      hits.length > q.limit && last ? encodeCursor(q.sort, q.order, keys.map((_, n) => last[`k${n}`])) : undefined;
    return nextCursor === undefined ? { items } : { items, nextCursor };
  };

  /**
   * The first `want` matches of an FTS query in date order, without sorting every match: FTS5
   * hands out matches in rowid order almost for free, and ids grow with time for generated
   * images, so the newest matches come first. Batches are read until the best `want` are
   * certain: the newest image among the ids not yet read (one step down the date index) is
   * older than the `want`-th found. Exact whatever the id/date order; fast when they agree
   * (a common word: a few hundred rows read instead of tens of thousands sorted).
   */
  const streamByDate = (match: string, where: readonly string[], params: readonly unknown[], order: 'asc' | 'desc', want: number): Hit[] => {
    const desc = order === 'desc';
    const batchSize = 512;
    const batchSql = `SELECT rowid AS id FROM images_fts WHERE images_fts MATCH ? AND rowid ${desc ? '<' : '>'} ? ORDER BY rowid ${desc ? 'DESC' : 'ASC'} LIMIT ${batchSize}`;
    const keysSql = `SELECT i.id, i.created_at AS k0, i.id AS k1 FROM images i WHERE i.id IN (SELECT value FROM json_each(?)) AND ${where.join(' AND ')}`;
    // `+i.id`: the planner must walk the date index, not an id range it would then sort.
    const boundSql = `SELECT i.created_at AS k0, i.id AS k1 FROM images i WHERE ${where[0]} AND +i.id ${desc ? '<' : '>'} ?
      ORDER BY i.created_at ${desc ? 'DESC' : 'ASC'}, i.id ${desc ? 'DESC' : 'ASC'} LIMIT 1`;
    // before(a, b): a comes before b in the list's order.
    const before = (a: Hit, b: Hit) => {
      const c = Number(a.k0) - Number(b.k0) || a.id - b.id;
      return desc ? c > 0 : c < 0;
    };
    let best: Hit[] = [];
    let edge = desc ? Number.MAX_SAFE_INTEGER : 0;
    for (;;) {
      const ids = (stmt(batchSql).all(match, edge) as { id: number }[]).map((r) => r.id);
      if (ids.length === 0) break;
      const found = stmt(keysSql).all(JSON.stringify(ids), ...params) as Hit[];
      best = best.concat(found).sort((a, b) => (before(a, b) ? -1 : 1)).slice(0, want);
      edge = ids[ids.length - 1]!;
      if (ids.length < batchSize) break;
      if (best.length === want) {
        const next = stmt(boundSql).get(...params.slice(0, countParams(where[0]!)), edge) as Hit | undefined;
        if (!next || before(best[want - 1]!, next)) break;
      }
    }
    return best;
  };

  /** More matches than sorting them all would answer quickly (a common word, a short prefix). */
  const manyMatches = (match: string): boolean =>
    (stmt(`SELECT count(*) AS n FROM (SELECT 1 FROM images_fts WHERE images_fts MATCH ? LIMIT ${SORT_ALL_UP_TO + 1})`).get(match) as { n: number }).n >
    SORT_ALL_UP_TO;

  /**
   * Every id a query matches, as a bitmap. Kept for the last query while the database is
   * unchanged (this connection's total_changes, other connections' data_version), so the next
   * pages of a search and a change of sort reuse it.
   */
  let lastMatch: { match: string; version: string; ids: Uint8Array } | undefined;
  const dataVersion = (): string => {
    const v = stmt('SELECT total_changes() AS c, (SELECT data_version FROM pragma_data_version) AS d').get() as { c: number; d: number };
    return `${v.c}:${v.d}`;
  };
  const matchSetCached = (match: string): boolean => lastMatch?.match === match && lastMatch.version === dataVersion();
  const matchSet = (match: string): Uint8Array => {
    const version = dataVersion();
    if (lastMatch?.match === match && lastMatch.version === version) return lastMatch.ids;
    // One row holding every id (parsed here) costs about half of one row per id.
    const row = stmt(`SELECT group_concat(rowid) AS ids, (SELECT max(id) FROM images) AS top FROM images_fts WHERE images_fts MATCH ?`).get(match) as {
      ids: string | null;
      top: number | null;
    };
    const set = new Uint8Array((row.top ?? 0) + 1);
    const text = row.ids ?? '';
    let id = 0;
    for (let k = 0; k < text.length; k++) {
      const c = text.charCodeAt(k);
      if (c === 44) {
        set[id] = 1;
        id = 0;
      } else {
        id = id * 10 + (c - 48);
      }
    }
    if (text.length > 0) set[id] = 1;
    lastMatch = { match, version, ids: set };
    return set;
  };

  /** At least half the ids match: asking FTS about the rows in sort order finds a page sooner
   *  than reading every match into a set. */
  const denseMatches = (match: string): boolean => {
    const top = (stmt('SELECT max(id) AS top FROM images').get() as { top: number | null }).top ?? 0;
    const half = Math.floor(top / 2);
    return (stmt('SELECT count(*) AS n FROM (SELECT 1 FROM images_fts WHERE images_fts MATCH ? LIMIT ?)').get(match, half + 1) as { n: number }).n > half;
  };
  const inSet =
    (set: Uint8Array): Membership =>
    () =>
    (id) =>
      set[id] === 1;
  /** Asks FTS which ids of each batch match; gives up after PROBE_LIMIT ids (matches that are
   *  dense overall but rare in this order or under these filters), for the set instead. */
  const probe = (match: string): Membership => {
    let asked = 0;
    return (ids) => {
      asked += ids.length;
      if (asked > PROBE_LIMIT) return null;
      const hits = new Set(
        stmt('SELECT rowid FROM images_fts WHERE images_fts MATCH ? AND rowid IN (SELECT value FROM json_each(?))')
          .pluck()
          .all(match, JSON.stringify(ids)) as number[],
      );
      return (id) => hits.has(id);
    };
  };

  /**
   * The first `want` rows in the sort's order that are members: reads the sort's index in
   * batches (keyset, with the other filters) and keeps the members. Used when matches are many,
   * so a page fills within a few batches instead of sorting every match. Null when the
   * membership test gives up.
   */
  const walkIndex = (
    member: Membership,
    batchSize: number,
    keys: readonly string[],
    where: readonly string[],
    params: readonly unknown[],
    order: 'asc' | 'desc',
    want: number,
  ): Hit[] | null => {
    const dir = order === 'desc' ? 'DESC' : 'ASC';
    const select = `SELECT i.id, ${keys.map((k, n) => `${k} AS k${n}`).join(', ')} FROM images i WHERE ${where.join(' AND ')}`;
    const tail = `ORDER BY ${keys.map((k) => `${k} ${dir}`).join(', ')} LIMIT ${batchSize}`;
    const first = stmt(`${select} ${tail}`);
    const next = stmt(`${select} AND ${keysetAfter(keys, order)} ${tail}`);
    const out: Hit[] = [];
    let batch = first.all(...params) as Hit[];
    for (;;) {
      const isMember = member(batch.map((h) => h.id));
      if (!isMember) return null;
      for (const hit of batch) {
        if (isMember(hit.id)) {
          out.push(hit);
          if (out.length === want) return out;
        }
      }
      const last = batch[batch.length - 1];
      if (batch.length < batchSize || !last) return out;
      batch = next.all(...params, ...keys.map((_, n) => last[`k${n}`])) as Hit[];
    }
  };

  const collection = (id: number): GalleryCollection => {
    const row = stmt(
      `SELECT c.id, c.name, c.created_at AS createdAt, (SELECT count(*) FROM collection_images ci WHERE ci.collection_id = c.id) AS count
       FROM collections c WHERE c.id = ?`,
    ).get(id) as GalleryCollection | undefined;
    if (!row) throw new GalleryError('NOT_FOUND', `no collection ${id}`);
    return row;
  };

  return {
    insert: (row) => insert(row),
    get,
    findByHash: (hash) => {
      const row = stmt('SELECT uid FROM images WHERE content_hash = ? ORDER BY trashed_at IS NOT NULL, id LIMIT 1').get(hash) as
        | { uid: string }
        | undefined;
      return row && get(row.uid);
    },
    list: (q) => db.transaction(() => list(q))(),
    setRating: (uid, rating) => {
      if (!Number.isInteger(rating) || rating < 0 || rating > 5) throw new GalleryError('INVALID_INPUT', 'a rating is 0..5');
      stmt('UPDATE images SET rating = ? WHERE id = ?').run(rating, idOf(uid));
      return must(uid);
    },
    setFavourite: (uid, favourite) => {
      stmt('UPDATE images SET favourite = ? WHERE id = ?').run(favourite ? 1 : 0, idOf(uid));
      return must(uid);
    },
    addTags: (uid, tags) =>
      db.transaction(() => {
        addTagsTo(idOf(uid), tags);
        return must(uid);
      })(),
    removeTags: (uid, tags) =>
      db.transaction(() => {
        const id = idOf(uid);
        for (const t of cleanTags(tags)) {
          stmt('DELETE FROM image_tags WHERE image_id = ? AND tag_id = (SELECT id FROM tags WHERE name = ?)').run(id, t);
        }
        return must(uid);
      })(),
    trash: (uids, now) =>
      db.transaction(() => inBatches(uids, (m) => `UPDATE images SET trashed_at = ? WHERE trashed_at IS NULL AND uid IN (${m})`, [now]))(),
    restore: (uids) =>
      db.transaction(() => inBatches(uids, (m) => `UPDATE images SET trashed_at = NULL WHERE trashed_at IS NOT NULL AND uid IN (${m})`))(),
    trashed: (before) =>
      stmt('SELECT uid, file FROM images WHERE trashed_at IS NOT NULL AND trashed_at < ? ORDER BY id').all(
        before ?? Number.MAX_SAFE_INTEGER,
      ) as { uid: string; file: string }[],
    deleteRow: (uid) => {
      stmt('DELETE FROM images WHERE uid = ?').run(uid);
    },
    purgeRow: (uid, file) =>
      db.transaction(() => {
        stmt('DELETE FROM images WHERE uid = ?').run(uid);
        stmt('INSERT OR REPLACE INTO purge_journal (file, uid) VALUES (?, ?)').run(file, uid);
      })(),
    pendingPurges: () => stmt('SELECT uid, file FROM purge_journal ORDER BY file').all() as { uid: string; file: string }[],
    purgeDone: (file) => {
      stmt('DELETE FROM purge_journal WHERE file = ?').run(file);
    },
    files: () => stmt('SELECT uid, file FROM images').all() as { uid: string; file: string }[],
    createCollection: (name, now) => {
      const clean = name.trim();
      if (!clean || clean.length > 200) throw new GalleryError('INVALID_INPUT', 'a collection name is 1..200 characters');
      try {
        const info = stmt('INSERT INTO collections (name, created_at) VALUES (?, ?)').run(clean, now);
        return collection(Number(info.lastInsertRowid));
      } catch (error) {
        if (error instanceof Error && /UNIQUE/.test(error.message)) throw new GalleryError('CONFLICT', `a collection "${clean}" exists`);
        throw error;
      }
    },
    deleteCollection: (id) => {
      if (stmt('DELETE FROM collections WHERE id = ?').run(id).changes === 0) throw new GalleryError('NOT_FOUND', `no collection ${id}`);
    },
    listCollections: () =>
      stmt(
        `SELECT c.id, c.name, c.created_at AS createdAt, (SELECT count(*) FROM collection_images ci WHERE ci.collection_id = c.id) AS count
         FROM collections c ORDER BY c.name`,
      ).all() as GalleryCollection[],
    addToCollection: (id, uids, now) =>
      db.transaction(() => {
        collection(id);
        return inBatches(
          uids,
          (m) => `INSERT OR IGNORE INTO collection_images (collection_id, image_id, added_at) SELECT ?, id, ? FROM images WHERE uid IN (${m})`,
          [id, now],
        );
      })(),
    removeFromCollection: (id, uids) =>
      db.transaction(() =>
        inBatches(uids, (m) => `DELETE FROM collection_images WHERE collection_id = ? AND image_id IN (SELECT id FROM images WHERE uid IN (${m}))`, [id]),
      )(),
    models: () =>
      stmt(
        `SELECT model_id AS id, coalesce(max(model_name), model_id) AS name, count(*) AS count FROM images
         WHERE trashed_at IS NULL AND model_id != '' GROUP BY model_id ORDER BY model_id`,
      ).all() as GalleryModelFacet[],
    count: () => (stmt('SELECT count(*) AS n FROM images WHERE trashed_at IS NULL').get() as { n: number }).n,
  };
}
