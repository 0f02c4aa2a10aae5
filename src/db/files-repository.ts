import { and, asc, eq, inArray, type SQL, sql } from 'drizzle-orm';
import { drizzle, type DrizzleD1Database } from 'drizzle-orm/d1';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import type { FileQuery } from '../lib/query';
import type { Aggregation } from '../lib/query-aggregate';
import { type AggregateRow, aggregatePage } from './aggregate-sql';
import { type CollectionTable, folderChain, type ListPage, type Listed, listPage, type RowSize } from './query-sql';
import { FILE_FIELDS, type FileField } from '../files/record';
import { foundIn } from './batches';
import { derivatives, type FileRow, files, type FolderRow, folders, type NewFileRow } from './schema';

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
   * what a PATCH stored while the new bytes were uploading.
   */
  async update(id: string, patch: Partial<NewFileRow>, fallbacks: Partial<Pick<NewFileRow, Fallback>> = {}): Promise<FileRow | undefined> {
    const kept: Partial<Record<Fallback, SQL>> = {};
    for (const [name, value] of Object.entries(fallbacks) as [Fallback, unknown][]) {
      if (value !== undefined && value !== null) kept[name] = sql`coalesce(${files[name]}, ${files[name].mapToDriverValue(value as never)})`;
    }
    const [updated] = await this.db
      .update(files)
      .set({ ...patch, ...kept, ...existingFolder(patch.folder), modifiedOn: patch.modifiedOn ?? new Date().toISOString() })
      .where(eq(files.id, id))
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
}
