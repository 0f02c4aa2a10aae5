import { and, eq, gt, inArray, isNotNull, lte } from 'drizzle-orm';
import { drizzle, type DrizzleD1Database } from 'drizzle-orm/d1';
import { foundIn } from './batches';
import { liveUploads, type LiveUploadRow, type NewLiveUploadRow } from './schema';

/**
 * When a lease that ends at `until` must be renewed at `now`: undefined while it has more than
 * `windowMs` left, else the new end (two windows ahead). An upload's lease thus always outlasts its
 * own expiry (at most one window ahead) while costing one D1 write per window of activity.
 */
export function leaseRenewal(until: number | undefined, now: number, windowMs: number): number | undefined {
  return until === undefined || until - now < windowMs ? now + 2 * windowMs : undefined;
}

/** The D1 adapter for the record of live multipart uploads (see `liveUploads`). */
export class LiveUploadsRepository {
  private readonly db: DrizzleD1Database;

  constructor(d1: D1Database) {
    this.db = drizzle(d1);
  }

  async track(row: NewLiveUploadRow): Promise<void> {
    await this.db
      .insert(liveUploads)
      .values(row)
      // A direct upload's row may exist already: the claim of its name's key (File Naming `original`).
      .onConflictDoUpdate({ target: liveUploads.id, set: { key: row.key, s3UploadId: row.s3UploadId, liveUntil: row.liveUntil, ...(row.direct === undefined ? {} : { direct: row.direct }) } });
  }

  async forget(id: string): Promise<void> {
    await this.db.delete(liveUploads).where(eq(liveUploads.id, id));
  }

  /** Of `keys` in `storage`, those a live upload is writing (or has written and not yet recorded). */
  heldKeys(storage: string, keys: string[], now: number): Promise<Set<string>> {
    return foundIn(keys, async (batch) =>
      (await this.db.select({ v: liveUploads.key }).from(liveUploads).where(and(eq(liveUploads.storage, storage), inArray(liveUploads.key, batch), gt(liveUploads.liveUntil, now)))).map((r) => r.v),
    );
  }

  /** Of these upload ids (TUS uploads' Durable Object ids), those still live. */
  liveIds(ids: string[], now: number): Promise<Set<string>> {
    return foundIn(ids, async (batch) =>
      (await this.db.select({ v: liveUploads.id }).from(liveUploads).where(and(inArray(liveUploads.id, batch), gt(liveUploads.liveUntil, now)))).map((r) => r.v),
    );
  }

  /** Of these S3 multipart upload ids, those a live upload owns. */
  ownedUploadIds(storage: string, uploadIds: string[], now: number): Promise<Set<string>> {
    return foundIn(uploadIds, async (batch) =>
      (await this.db.select({ v: liveUploads.s3UploadId }).from(liveUploads).where(and(eq(liveUploads.storage, storage), inArray(liveUploads.s3UploadId, batch), gt(liveUploads.liveUntil, now)))).map((r) => r.v),
    );
  }

  /** The direct-to-bucket upload with this S3 upload id, live or not; undefined for any other kind. */
  async direct(s3UploadId: string): Promise<LiveUploadRow | undefined> {
    const [row] = await this.db.select().from(liveUploads).where(and(eq(liveUploads.s3UploadId, s3UploadId), isNotNull(liveUploads.direct))).limit(1);
    return row;
  }

  /** Direct-to-bucket uploads of `storage` whose lease ended by `now`, at most `limit`. */
  expiredDirect(storage: string, now: number, limit: number): Promise<LiveUploadRow[]> {
    return this.db
      .select()
      .from(liveUploads)
      .where(and(eq(liveUploads.storage, storage), isNotNull(liveUploads.direct), lte(liveUploads.liveUntil, now)))
      .limit(limit);
  }

  /** Moves a lease's end (a direct upload's activity, or its completion). */
  async extend(id: string, liveUntil: number): Promise<void> {
    await this.db.update(liveUploads).set({ liveUntil }).where(eq(liveUploads.id, id));
  }
}
