import { asc, eq, sql } from 'drizzle-orm';
import { drizzle, type DrizzleD1Database } from 'drizzle-orm/d1';
import type { FolderField } from '../folders/record';
import type { Query } from '../lib/query';
import { type ListPage, listPage } from './query-sql';
import { type FolderRow, files, folders } from './schema';

const column = (field: FolderField) => folders[field];

/** The D1 adapter for folders: SQL stays here, callers get rows. */
export class FoldersRepository {
  private readonly db: DrizzleD1Database;

  constructor(d1: D1Database) {
    this.db = drizzle(d1);
  }

  async insert(row: FolderRow): Promise<FolderRow> {
    const [inserted] = await this.db.insert(folders).values(row).returning();
    return inserted as FolderRow;
  }

  async get(id: string): Promise<FolderRow | undefined> {
    return this.db.select().from(folders).where(eq(folders.id, id)).get();
  }

  list(query: Query<FolderField>): Promise<ListPage<FolderRow>> {
    return listPage(this.db, folders, query, column, [folders.name], [asc(folders.name), asc(folders.id)]);
  }

  async update(id: string, patch: Partial<Pick<FolderRow, 'name' | 'parent'>>): Promise<FolderRow | undefined> {
    const [updated] = await this.db.update(folders).set(patch).where(eq(folders.id, id)).returning();
    return updated;
  }

  /**
   * Whether `ancestor` is `id` or one of its ancestors (walking `parent` links up from `id`). One
   * recursive query; UNION stops at a row seen before, so it ends on any data.
   */
  async isSelfOrAncestor(ancestor: string, id: string): Promise<boolean> {
    const found = await this.db.all(sql`WITH RECURSIVE up(id, parent) AS (
        SELECT id, parent FROM ${folders} WHERE id = ${id}
        UNION SELECT f.id, f.parent FROM ${folders} f JOIN up ON f.id = up.parent)
      SELECT 1 FROM up WHERE id = ${ancestor} LIMIT 1`);
    return found.length > 0;
  }

  /** Deletes a folder, moving its files and subfolders to the root, in one transaction (a D1 batch). */
  async delete(id: string): Promise<boolean> {
    const [, , deleted] = await this.db.batch([
      this.db.update(files).set({ folder: null }).where(eq(files.folder, id)),
      this.db.update(folders).set({ parent: null }).where(eq(folders.parent, id)),
      this.db.delete(folders).where(eq(folders.id, id)).returning({ id: folders.id }),
    ]);
    return deleted.length > 0;
  }
}
