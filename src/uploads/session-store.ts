import type { AppError } from '../errors/app-error';
import type { UploadedPart } from '../storage/s3-client';
import type { PartialInfo } from './assembler';
import type { ChecksumAlgorithm } from './tus-protocol';

/** `failed`: a final upload whose assembly failed (HEAD answers its error). */
export type UploadStatus = 'active' | 'completed' | 'terminated' | 'expired' | 'failed';

/** What HEAD and PATCH report. */
export interface UploadInfo {
  /** Undefined while a final upload is being assembled (the concatenation extension's HEAD). */
  offset: number | undefined;
  /** Undefined while the length is deferred. */
  length: number | undefined;
  metadataHeader: string;
  expiresAt: number;
  fileId: string | undefined;
  /** This very request completed the replacement of `fileId`'s bytes (its edge copies must go). */
  replaced?: boolean;
  /** The Upload-Concat header of a partial or final upload. */
  concat?: string;
}

export interface CreateInput {
  owner: string;
  length: number | undefined;
  metadataHeader: string;
  metadata: Record<string, string>;
  maxSize: number | undefined;
  expirationMs: number;
  /** The name of the token that created the upload, recorded as `uploaded_by`. */
  uploadedBy: string | null;
  /** Upload-Concat: a partial upload, or a final one made of these uploads (ids) in order. */
  concat?: { partial: true } | { final: string[]; header: string };
}

export interface AppendInput {
  owner: string;
  offset: number;
  /** Upload-Length sent with a PATCH of a deferred-length upload. */
  length?: number;
  contentLength?: number;
  checksum?: { algorithm: ChecksumAlgorithm; digest: string };
}

/** Bytes that wait for their part, stored as an object of their own. */
export interface Segment {
  start: number;
  key: string;
  size: number;
}

/** Everything durable about an upload but its bytes (kept as one JSON row). */
export interface State {
  owner: string;
  status: UploadStatus;
  length: number | undefined;
  maxSize: number | undefined;
  offset: number;
  partSize: number;
  storage: string;
  metadataHeader: string;
  filename: string;
  declaredType: string | undefined;
  fields: Record<string, unknown>;
  /** The file this upload creates, or the one it replaces. */
  fileId: string;
  replaces: boolean;
  uploadedBy: string | null;
  /** Known once the first bytes are in: the sniffed type and the original's key. */
  type: string | undefined;
  key: string | undefined;
  s3UploadId: string | undefined;
  /** When the multipart upload was created: a completion with a lost answer is checked against it. */
  s3StartedAt?: number;
  /** The object is complete in storage (only the record may be missing). */
  assembled?: boolean;
  /** The SHA-256 of the whole upload, once known (null: computed after completion, in `hashing`). */
  checksum?: string | null;
  /** The checksum being made in the background (a final upload, or a running hash that lost the thread): the saved hash of the bytes read so far. */
  hashing?: { hash: string | undefined };
  /** Upload-Concat: partial uploads hold an object for a final one; a final one lists its partials. */
  concat?: 'partial' | 'final';
  concatHeader?: string;
  partials?: PartialInfo[];
  /** A partial upload claimed by this final upload (its id): no other may use it, and it does not expire meanwhile. */
  claimedBy?: string;
  /** A final upload's failed assembly steps so far. */
  assemblyFailures?: number;
  /** Why a final upload failed, answered by HEAD from then on. */
  failure?: { code: AppError['code']; message: string };
  /** False once the store showed it cannot UploadPartCopy (s3rver): parts are streamed instead. */
  copyParts?: boolean;
  /** Until when the record of live uploads protects this upload's multipart upload and key. */
  leaseUntil?: number;
  expirationMs: number;
  expiresAt: number;
  /** When a finished, terminated or expired upload is forgotten (then 404 instead of 410). */
  forgetAt: number | undefined;
}

/** What a PATCH has done since its last commit. */
export interface Progress {
  offset: number;
  newParts: UploadedPart[];
  /** The staged segments as they now are (committed ones, less those sent in a part, plus new ones). */
  staged: Segment[];
  /** The upload's first bytes (up to HEAD_BYTES) this PATCH read, kept for sniffing at completion. */
  head: Uint8Array[];
  /** The whole upload went out as one PutObject. */
  assembled: boolean;
}

export const total = (segments: Segment[]) => segments.reduce((n, s) => n + s.size, 0);

/**
 * The Durable Object's own SQLite: the state row, the parts sent, the staged segments and the
 * upload's first bytes. Every write that must land together is one transaction here.
 */
export class SessionStore {
  constructor(private readonly storage: DurableObjectStorage) {
    storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS upload (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS parts (number INTEGER PRIMARY KEY, etag TEXT NOT NULL, size INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS staged (start INTEGER PRIMARY KEY, key TEXT NOT NULL, size INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS head (seq INTEGER PRIMARY KEY, data BLOB NOT NULL);
    `);
  }

  private get sql() {
    return this.storage.sql;
  }

  load(): State | undefined {
    const row = this.sql.exec<{ state: string }>('SELECT state FROM upload WHERE id = 1').toArray()[0];
    return row ? (JSON.parse(row.state) as State) : undefined;
  }

  save(state: State): void {
    this.sql.exec('INSERT OR REPLACE INTO upload (id, state) VALUES (1, ?)', JSON.stringify(state));
  }

  headRows(): Uint8Array[] {
    return this.sql
      .exec<{ data: ArrayBuffer }>('SELECT data FROM head ORDER BY seq')
      .toArray()
      .map((r) => new Uint8Array(r.data));
  }

  segments(): Segment[] {
    return this.sql.exec<{ start: number; key: string; size: number }>('SELECT start, key, size FROM staged ORDER BY start').toArray().map((r) => ({ ...r }));
  }

  partCount(): number {
    return this.sql.exec<{ n: number }>('SELECT count(*) AS n FROM parts').one().n;
  }

  parts(): UploadedPart[] {
    return this.sql
      .exec<{ number: number; etag: string; size: number }>('SELECT number, etag, size FROM parts ORDER BY number')
      .toArray()
      .map((p) => ({ partNumber: p.number, etag: p.etag, size: p.size }));
  }

  recordPart(p: UploadedPart): void {
    this.sql.exec('INSERT OR REPLACE INTO parts (number, etag, size) VALUES (?, ?, ?)', p.partNumber, p.etag, p.size ?? 0);
  }

  /** The last part, made of the staged segments, is sent: recorded, and nothing is staged any more. */
  sentStaged(last: UploadedPart): void {
    this.storage.transactionSync(() => {
      this.recordPart(last);
      this.sql.exec('DELETE FROM staged');
    });
  }

  /** A PATCH's progress and the state that goes with it, in one transaction. */
  commit(state: State, w: Progress): void {
    this.storage.transactionSync(() => {
      for (const p of w.newParts) this.recordPart(p);
      this.sql.exec('DELETE FROM staged');
      for (const s of w.staged) this.sql.exec('INSERT INTO staged (start, key, size) VALUES (?, ?, ?)', s.start, s.key, s.size);
      // Count, not read: the head rows hold up to 256 KiB.
      const headSeq = w.head.length > 0 ? this.sql.exec<{ n: number }>('SELECT count(*) AS n FROM head').one().n : 0;
      w.head.forEach((row, i) => {
        if (row.byteLength > 0) this.sql.exec('INSERT INTO head (seq, data) VALUES (?, ?)', headSeq + i, row);
      });
      this.save(state);
    });
  }

  /** An ended upload keeps only its state row (its tombstone). */
  ended(state: State): void {
    this.storage.transactionSync(() => {
      this.sql.exec('DELETE FROM staged');
      this.sql.exec('DELETE FROM head');
      this.sql.exec('DELETE FROM parts');
      this.save(state);
    });
  }

  /**
   * Uploads begun before parts streamed kept the bytes short of a part in a `tail` table: its bytes,
   * or undefined when there is none.
   */
  legacyTail(): Uint8Array[] | undefined {
    if (this.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'tail'").toArray().length === 0) return undefined;
    return this.sql.exec<{ data: ArrayBuffer }>('SELECT data FROM tail ORDER BY seq').toArray().map((r) => new Uint8Array(r.data));
  }

  /** The legacy tail, now staged as `segment` (if it had bytes), is dropped. */
  adoptedTail(segment: Segment | undefined): void {
    this.storage.transactionSync(() => {
      if (segment) this.sql.exec('INSERT INTO staged (start, key, size) VALUES (?, ?, ?)', segment.start, segment.key, segment.size);
      this.sql.exec('DROP TABLE tail');
    });
  }
}
