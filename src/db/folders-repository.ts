import { and, asc, count, eq, inArray, type SQL, sql } from 'drizzle-orm';
import { LOOKUP_BATCH } from './batches';
import { drizzle, type DrizzleD1Database } from 'drizzle-orm/d1';
import type { FolderField } from '../folders/record';
import type { FolderQuery } from '../lib/query';
import type { Aggregation } from '../lib/query-aggregate';
import { type AggregateRow, aggregatePage } from './aggregate-sql';
import { type CollectionTable, folderChain, type ListPage, type Listed, listPage, type RowSize } from './query-sql';
import { type FolderRow, files, folders } from './schema';

const FOLDERS: CollectionTable<typeof folders, FolderField> = {
  table: folders,
  column: (field) => folders[field],
  property: (field) => field,
  id: folders.id,
  relation: folders.parent,
  searched: [folders.name],
  fallbackOrder: [asc(folders.name), asc(folders.id)],
};

/** The D1 adapter for folders: SQL stays here, callers get rows. */
export class FoldersRepository {
  private readonly db: DrizzleD1Database;

  constructor(d1: D1Database) {
    this.db = drizzle(d1);
  }

  /**
   * Inserts `row` in one conditional statement: only while there are fewer than `max` folders and
   * its parent (if any) exists. So concurrent creations cannot pass the bound together, and a parent
   * deleted meanwhile is never pointed to. Undefined when a condition failed.
   */
  async insert(row: FolderRow, max: number): Promise<FolderRow | undefined> {
    const [inserted] = await this.db.all<FolderRow>(sql`INSERT INTO ${folders} (id, name, parent) SELECT ${row.id}, ${row.name}, ${row.parent}
      WHERE (SELECT count(*) FROM ${folders}) < ${max} AND (${row.parent} IS NULL OR EXISTS (SELECT 1 FROM ${folders} WHERE id = ${row.parent}))
      RETURNING id, name, parent`);
    return inserted;
  }

  async count(): Promise<number> {
    return (await this.db.select({ n: count() }).from(folders).get())?.n ?? 0;
  }

  async get(id: string): Promise<FolderRow | undefined> {
    return this.db.select().from(folders).where(eq(folders.id, id)).get();
  }

  /** A page of records with the parents `fields` expands; `sizeOf` measures each as the answer will hold it (see listPage). */
  list(query: FolderQuery, sizeOf: RowSize<Listed<FolderRow>>): Promise<ListPage<Listed<FolderRow>>> {
    return listPage(this.db, FOLDERS, query, sizeOf);
  }

  /** A page of aggregate rows (see aggregatePage). */
  aggregate(query: FolderQuery, aggregation: Aggregation<FolderField>, sizeOf: RowSize<AggregateRow<FolderRow>>): Promise<ListPage<AggregateRow<FolderRow>>> {
    return aggregatePage(this.db, FOLDERS, query, aggregation, sizeOf);
  }

  /** Folder `id` and its parents, `depth` of them, for an expanded `parent` (see folderChain). */
  chain(id: string | null, depth: number): Promise<(FolderRow | null)[]> {
    return folderChain(this.db, id, depth);
  }

  /**
   * Renames or moves folder `id` in one conditional statement: a new parent must exist and must not
   * be the folder itself or below it (the recursive walk up from the new parent, in the same
   * statement, must not meet `id`). Two concurrent moves (A under B, B under A) are serialised by
   * D1: the second sees the first and fails, so no cycle can be written. Undefined when nothing was
   * updated (the folder is gone or a condition failed).
   */
  async update(id: string, patch: Partial<Pick<FolderRow, 'name' | 'parent'>>): Promise<FolderRow | undefined> {
    const parent = patch.parent;
    const movable = parent
      ? sql`EXISTS (SELECT 1 FROM ${folders} WHERE id = ${parent}) AND NOT EXISTS (${selfOrAncestor(id, parent)})`
      : undefined;
    const [updated] = await this.db.update(folders).set(patch).where(and(eq(folders.id, id), movable)).returning();
    return updated;
  }

  /** Whether `ancestor` is `id` or one of its ancestors: for the message of a refused move. */
  async isSelfOrAncestor(ancestor: string, id: string): Promise<boolean> {
    return (await this.db.all(selfOrAncestor(ancestor, id))).length > 0;
  }

  /**
   * Deletes folders, moving their files and subfolders to the root, in one transaction (a D1 batch,
   * LOOKUP_BATCH ids a statement): a file or folder written into one of them meanwhile either lands
   * before the batch (and is moved) or finds the folder gone. The number of folders deleted.
   */
  async delete(ids: string[]): Promise<number> {
    const statements = [];
    for (let i = 0; i < ids.length; i += LOOKUP_BATCH) {
      const batch = ids.slice(i, i + LOOKUP_BATCH);
      statements.push(
        this.db.update(files).set({ folder: null }).where(inArray(files.folder, batch)),
        this.db.update(folders).set({ parent: null }).where(inArray(folders.parent, batch)),
        this.db.delete(folders).where(inArray(folders.id, batch)).returning({ id: folders.id }),
      );
    }
    const [first, ...rest] = statements;
    if (!first) return 0;
    const results = await this.db.batch([first, ...rest]);
    return results.reduce((n, r, i) => n + (i % 3 === 2 ? (r as unknown[]).length : 0), 0);
  }
}

/**
 * A row when `ancestor` is `id` or one of its ancestors (walking `parent` links up from `id`). One
 * recursive query; UNION stops at a row seen before, so it ends on any data.
 */
function selfOrAncestor(ancestor: string, id: string): SQL {
  return sql`WITH RECURSIVE up(id, parent) AS (
      SELECT id, parent FROM ${folders} WHERE id = ${id}
      UNION SELECT f.id, f.parent FROM ${folders} f JOIN up ON f.id = up.parent)
    SELECT 1 FROM up WHERE id = ${ancestor} LIMIT 1`;
}
