import { and, asc, eq, gt, isNotNull, isNull } from 'drizzle-orm';
import { drizzle, type DrizzleD1Database } from 'drizzle-orm/d1';
import { checksumProgress, type FileRow, files } from './schema';

/** The D1 adapter for checksums computed over several sweep runs: the files still without one, and each one's saved state. */
export class ChecksumProgressRepository {
  private readonly db: DrizzleD1Database;

  constructor(d1: D1Database) {
    this.db = drizzle(d1);
  }

  /** The oldest files with stored bytes and no checksum yet (files_checksum indexes the column). */
  pending(limit: number): Promise<FileRow[]> {
    return this.db
      .select()
      .from(files)
      .where(and(isNull(files.checksum), isNotNull(files.filenameDisk), gt(files.filesize, 0)))
      .orderBy(asc(files.createdOn))
      .limit(limit);
  }

  /** The saved state of `fileId`'s checksum, if a run began it. */
  async get(fileId: string): Promise<{ key: string; state: string } | undefined> {
    return this.db.select({ key: checksumProgress.key, state: checksumProgress.state }).from(checksumProgress).where(eq(checksumProgress.fileId, fileId)).get();
  }

  async save(fileId: string, key: string, state: string): Promise<void> {
    await this.db.insert(checksumProgress).values({ fileId, key, state }).onConflictDoUpdate({ target: checksumProgress.fileId, set: { key, state } });
  }

  /**
   * Writes the checksum if the file still has the bytes at `key`, and forgets the progress, in one
   * batch; a replacement meanwhile has its own checksum and keeps it.
   */
  async finish(fileId: string, key: string, checksum: string): Promise<void> {
    await this.db.batch([
      this.db.update(files).set({ checksum }).where(and(eq(files.id, fileId), eq(files.filenameDisk, key), isNull(files.checksum))),
      this.db.delete(checksumProgress).where(eq(checksumProgress.fileId, fileId)),
    ]);
  }
}
