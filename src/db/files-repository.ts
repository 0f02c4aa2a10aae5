import { and, asc, eq, inArray, isNull, lt, type SQL, sql } from 'drizzle-orm';
import { drizzle, type DrizzleD1Database } from 'drizzle-orm/d1';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import type { FileQuery } from '../lib/query';
import type { Aggregation } from '../lib/query-aggregate';
import { type AggregateRow, aggregatePage } from './aggregate-sql';
import { type CollectionTable, folderChain, type ListPage, type Listed, listPage, type RowSize } from './query-sql';
import { FILE_FIELDS, type FileField } from '../files/record';
import { foundIn, LOOKUP_BATCH } from './batches';
import { derivatives, type FileRow, files, type FolderRow, folders, liveUploads, type NewFileRow, settings } from './schema';
import type { FileNaming } from './settings-repository';

function column(field: FileField): SQLiteColumn {
  return files[FILE_FIELDS[field]];
}

const FILES: CollectionTable<typeof files, FileField> = {
  table: files,
  column,
  property: (field) => FILE_FIELDS[field],
  id: files.id,
  relation: files.folder,
  searched: [files.title, files.filenameDownload, files.description, files.tags],
  fallbackOrder: [asc(files.createdOn), asc(files.id)],
};

/**
 * `folder` as the statement that writes it finds it: the id while that folder exists, null when it
 * was deleted since the caller checked it (its files moved to the root, and so does this one). The
 * check and the write are one statement, so no record can point to a deleted folder.
 */
function existingFolder(folder: string | null | undefined): { folder?: SQL } {
  return folder ? { folder: sql`(SELECT ${folders.id} FROM ${folders} WHERE ${folders.id} = ${folder})` } : {};
}

/** The live_uploads row that claims `key` in `storage` for bytes being named (see claimKey). */
function claimId(storage: string, key: string): string {
  return `key:${storage}:${key}`;
}

/** Columns a replacement fills from the new bytes only where the record has nothing. */
type Fallback = 'description' | 'tags' | 'location';

/** The D1 adapter for file records: SQL stays here, callers get rows. */
export class FilesRepository {
  private readonly db: DrizzleD1Database;

  constructor(d1: D1Database) {
    this.db = drizzle(d1);
  }

  /**
   * Inserts `row` unless a file with its id exists; either way, the file with that id. So a record
   * written by a completion whose answer was lost is found, not written twice.
   */
  async insertOnce(row: NewFileRow): Promise<FileRow> {
    const [inserted] = await this.db.insert(files).values({ ...row, ...existingFolder(row.folder) }).onConflictDoNothing({ target: files.id }).returning();
    return inserted ?? ((await this.get(row.id)) as FileRow);
  }

  async get(id: string): Promise<FileRow | undefined> {
    return this.db.select().from(files).where(eq(files.id, id)).get();
  }

  async folderExists(id: string): Promise<boolean> {
    return (await this.db.select({ id: folders.id }).from(folders).where(eq(folders.id, id)).get()) !== undefined;
  }

  /** Of `keys` in `storage`, those a file record points to. */
  referencedKeys(storage: string, keys: string[]): Promise<Set<string>> {
    return foundIn(keys, async (batch) =>
      (await this.db.select({ v: files.filenameDisk }).from(files).where(and(eq(files.storage, storage), inArray(files.filenameDisk, batch)))).map((r) => r.v),
    );
  }

  /** Of these ids, those that are files. */
  existingIds(ids: string[]): Promise<Set<string>> {
    return foundIn(ids, async (batch) => (await this.db.select({ v: files.id }).from(files).where(inArray(files.id, batch))).map((r) => r.v));
  }

  async getByPrivateHash(hash: string): Promise<FileRow | undefined> {
    return this.db.select().from(files).where(eq(files.privateHash, hash)).get();
  }

  /** A page of records with the folders `fields` expands; `sizeOf` measures each as the answer will hold it (see listPage). */
  list(query: FileQuery, sizeOf: RowSize<Listed<FileRow>>): Promise<ListPage<Listed<FileRow>>> {
    return listPage(this.db, FILES, query, sizeOf);
  }

  /** A page of aggregate rows (see aggregatePage). */
  aggregate(query: FileQuery, aggregation: Aggregation<FileField>, sizeOf: RowSize<AggregateRow<FileRow>>): Promise<ListPage<AggregateRow<FileRow>>> {
    return aggregatePage(this.db, FILES, query, aggregation, sizeOf);
  }

  /** Folder `id` and its parents, `depth` of them, for a record's expanded `folder` (see folderChain). */
  folderChain(id: string | null, depth: number): Promise<(FolderRow | null)[]> {
    return folderChain(this.db, id, depth);
  }

  /**
   * Updates a file's record. The `fallbacks` are written only where the stored column is null, as
   * the statement finds it: a replacement's scraped description, tags and location never overwrite
   * what a PATCH stored while the new bytes were uploading. With `fromDisk`, only while the record
   * still points to that key (a replacement racing a rename or another replacement: one wins).
   */
  async update(id: string, patch: Partial<NewFileRow>, fallbacks: Partial<Pick<NewFileRow, Fallback>> = {}, fromDisk?: string | null): Promise<FileRow | undefined> {
    const kept: Partial<Record<Fallback, SQL>> = {};
    for (const [name, value] of Object.entries(fallbacks) as [Fallback, unknown][]) {
      if (value !== undefined && value !== null) kept[name] = sql`coalesce(${files[name]}, ${files[name].mapToDriverValue(value as never)})`;
    }
    const [updated] = await this.db
      .update(files)
      .set({ ...patch, ...kept, ...existingFolder(patch.folder), modifiedOn: patch.modifiedOn ?? new Date().toISOString() })
      .where(and(eq(files.id, id), fromDisk === undefined ? undefined : fromDisk === null ? isNull(files.filenameDisk) : eq(files.filenameDisk, fromDisk)))
      .returning();
    return updated;
  }

  async delete(id: string): Promise<boolean> {
    const deleted = await this.db.delete(files).where(eq(files.id, id)).returning({ id: files.id });
    return deleted.length > 0;
  }

  /**
   * Reserves the ad-hoc derivative `hash` for file `id` unless the file already has `limit` others:
   * `new` when this call reserved it, `existing` when it was reserved before, `full` when the file is
   * at its limit. The insert is conditional on the count in the same statement, so concurrent misses
   * cannot pass the limit together.
   */
  async reserveDerivative(id: string, hash: string, limit: number): Promise<'new' | 'existing' | 'full'> {
    const inserted = await this.db.all(sql`INSERT OR IGNORE INTO ${derivatives} (file_id, hash) SELECT ${id}, ${hash}
      WHERE (SELECT count(*) FROM ${derivatives} WHERE file_id = ${id}) < ${limit} RETURNING hash`);
    if (inserted.length > 0) return 'new';
    const existing = await this.db.select({ hash: derivatives.hash }).from(derivatives).where(and(eq(derivatives.fileId, id), eq(derivatives.hash, hash))).get();
    return existing ? 'existing' : 'full';
  }

  /** Gives back a reservation whose render failed. */
  async releaseDerivative(id: string, hash: string): Promise<void> {
    await this.db.delete(derivatives).where(and(eq(derivatives.fileId, id), eq(derivatives.hash, hash)));
  }

  /** Forgets a file's derivatives (its bytes were replaced and its `generated/` prefix deleted); a delete cascades. */
  async forgetDerivatives(id: string): Promise<void> {
    await this.db.delete(derivatives).where(eq(derivatives.fileId, id));
  }

  /**
   * Stores the placeholder made of the bytes the file had when it was read (`uploadedOn`): a
   * replacement since then changed that and waits for its own. Not a change of the file: its
   * `modified_on` stays, and no event is sent.
   */
  async setThumbhash(id: string, uploadedOn: string | null, value: string): Promise<boolean> {
    const done = await this.db
      .update(files)
      .set({ thumbhash: value })
      .where(and(eq(files.id, id), isNull(files.thumbhash), uploadedOn === null ? isNull(files.uploadedOn) : eq(files.uploadedOn, uploadedOn)))
      .returning({ id: files.id });
    return done.length > 0;
  }

  /** The oldest files still waiting for a placeholder (the partial index holds only those). */
  pendingPlaceholders(limit: number): Promise<FileRow[]> {
    return this.db.select().from(files).where(isNull(files.thumbhash)).orderBy(asc(files.createdOn)).limit(limit);
  }

  /** The File Naming setting (Directus 8), read where new bytes are keyed. */
  async fileNaming(): Promise<FileNaming> {
    return (await this.db.select({ v: settings.fileNaming }).from(settings).where(eq(settings.id, 1)).get())?.v ?? 'uuid';
  }

  /**
   * Claims `key` in `storage` for bytes about to be written there, until `until` (ms): true unless a
   * file record points to it or a live upload or live claim holds it. One statement, and D1 runs a
   * database's statements one at a time, so of two uploads claiming one key exactly one wins. The
   * claim is a row of live_uploads, so the sweep leaves the key alone while it lasts; an expired
   * claim of a key no record points to marks an orphan of ours (see claimedKeys). With `owner` (a
   * TUS upload's id) the upload's own lease row takes the key instead, and is renewed with the upload.
   */
  async claimKey(storage: string, key: string, until: number, now: number, owner?: string): Promise<boolean> {
    const id = owner ?? claimId(storage, key);
    const rows = await this.db.all(sql`INSERT INTO live_uploads (id, storage, key, s3_upload_id, live_until)
      SELECT ${id}, ${storage}, ${key}, NULL, ${until}
      WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.storage = ${storage} AND f.filename_disk = ${key})
        AND NOT EXISTS (SELECT 1 FROM live_uploads l WHERE l.storage = ${storage} AND l.key = ${key} AND l.live_until > ${now} AND l.id <> ${owner ?? ''})
      ON CONFLICT (id) DO UPDATE SET key = excluded.key, live_until = max(live_until, excluded.live_until)
      RETURNING id`);
    return rows.length > 0;
  }

  /** Ends the claim of `key` (its record now points to it, or its bytes are gone). */
  async releaseClaim(storage: string, key: string): Promise<void> {
    await this.db.delete(liveUploads).where(eq(liveUploads.id, claimId(storage, key)));
  }

  /** Of `keys` in `storage`, those claimed for bytes at some time and not released: ours, live or not. */
  claimedKeys(storage: string, keys: string[]): Promise<Set<string>> {
    return foundIn(keys, async (batch) =>
      (await this.db.select({ v: liveUploads.key }).from(liveUploads).where(inArray(liveUploads.id, batch.map((k) => claimId(storage, k))))).map((r) => r.v),
    );
  }

  /** Drops the claims of `keys` that have expired (a live one is an upload's again: it stays). */
  async dropExpiredClaims(storage: string, keys: string[], now: number): Promise<void> {
    for (let i = 0; i < keys.length; i += LOOKUP_BATCH) {
      const ids = keys.slice(i, i + LOOKUP_BATCH).map((k) => claimId(storage, k));
      await this.db.delete(liveUploads).where(and(inArray(liveUploads.id, ids), lt(liveUploads.liveUntil, now)));
    }
  }

  /**
   * Moves file `id` from the object at `from` to the one at `to`, if the record still points to
   * `from` (a replacement or another rename since makes it undefined), and in the same batch ends
   * the claim of `to` and leaves an expired claim of `from`: should its delete never happen, the
   * sweep knows it for an orphan of ours.
   */
  async switchKey(id: string, storage: string, from: string, to: string): Promise<FileRow | undefined> {
    const now = new Date().toISOString();
    const [, updated] = await this.db.batch([
      // First, while the record still points to `from` (the batch is one transaction).
      this.db
        .insert(liveUploads)
        .select(
          sql`SELECT ${claimId(storage, from)}, ${storage}, ${from}, NULL, 0, NULL
            WHERE EXISTS (SELECT 1 FROM files f WHERE f.id = ${id} AND f.storage = ${storage} AND f.filename_disk = ${from})`,
        )
        .onConflictDoUpdate({ target: liveUploads.id, set: { liveUntil: 0 } }),
      this.db
        .update(files)
        .set({ filenameDisk: to, modifiedOn: now })
        .where(and(eq(files.id, id), eq(files.storage, storage), eq(files.filenameDisk, from)))
        .returning(),
      this.db.delete(liveUploads).where(eq(liveUploads.id, claimId(storage, to))),
    ]);
    return updated[0];
  }
}
