import { DurableObject } from 'cloudflare:workers';
import { getConfig } from '../config';
import { FilesRepository } from '../db/files-repository';
import { leaseRenewal, LiveUploadsRepository } from '../db/live-uploads-repository';
import type { Bindings } from '../env';
import { AppError } from '../errors/app-error';
import { parseFileFields } from '../files/fields';
import { assertTypeAllowed, detectType, HEAD_BYTES } from '../files/inspect';
import { wellFormedType } from '../files/media-type';
import {
  assertFolder,
  type FilesDeps,
  learnStored,
  originalKey,
  recordNewFile,
  replacementKey,
  recordReplacement,
  requireFile,
} from '../files/service';
import { storageFor } from '../storage';
import { concat, hex } from '../lib/bytes';
import { log } from '../lib/log';
import { PartCutter, partSizeFor } from '../storage/parts';
import type { S3Client, UploadedPart } from '../storage/s3-client';
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm, tusError } from './tus-protocol';

/** SQLite values are limited to 2 MB: buffered bytes are stored in rows of at most this size. */
const ROW_BYTES = 1024 * 1024;

export type UploadStatus = 'active' | 'completed' | 'terminated' | 'expired';

/** What HEAD and PATCH report. */
export interface UploadInfo {
  offset: number;
  /** Undefined while the length is deferred. */
  length: number | undefined;
  metadataHeader: string;
  expiresAt: number;
  fileId: string | undefined;
  /** This very request completed the replacement of `fileId`'s bytes (its edge copies must go). */
  replaced?: boolean;
}

/** An RPC answer: errors cross the RPC boundary as data, so status and code survive. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; code: AppError['code']; message: string };

export interface CreateInput {
  owner: string;
  length: number | undefined;
  metadataHeader: string;
  metadata: Record<string, string>;
  maxSize: number | undefined;
  expirationMs: number;
  /** The name of the token that created the upload, recorded as `uploaded_by`. */
  uploadedBy: string | null;
}

export interface AppendInput {
  owner: string;
  offset: number;
  /** Upload-Length sent with a PATCH of a deferred-length upload. */
  length?: number;
  contentLength?: number;
  checksum?: { algorithm: ChecksumAlgorithm; digest: string };
}

/** Everything durable about an upload but its bytes (kept as one JSON row). */
interface State {
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
  /** The SHA-256 of the whole upload, once known. */
  checksum?: string;
  /** Until when the record of live uploads protects this upload's multipart upload and key. */
  leaseUntil?: number;
  expirationMs: number;
  expiresAt: number;
  /** When a finished, terminated or expired upload is forgotten (then 404 instead of 410). */
  forgetAt: number | undefined;
}

const fail = (error: AppError): Outcome<never> => ({ ok: false, code: error.code, message: error.message });

/**
 * One TUS upload (tus.io 1.0.0), owning its offset and its S3 multipart upload. Requests for the
 * upload are serialized here; a second PATCH while one runs gets 423 at once.
 *
 * Parts: every part but the last is exactly P bytes whatever the clients' PATCH sizes (R2 requires
 * equal parts). Bytes that do not fill a part are stored in this object's SQLite before a PATCH is
 * acknowledged, and count in Upload-Offset; so do the bytes received before a connection dropped.
 * Memory: the part being uploaded plus the one filling (2P).
 *
 * A PATCH is processed against a copy of the committed state and committed in one transaction at
 * its end: a checksum mismatch (460), a length overrun (413) or a storage failure discards that
 * request's bytes; part numbers follow from offsets, so parts sent by a discarded request are
 * simply uploaded again.
 */
export class UploadSession extends DurableObject<Bindings> {
  private busy = false;
  /** SHA-256 of bytes [0, hashed) while this instance has seen every byte; else recomputed at the end. */
  private hash: { stream: DigestStream; writer: WritableStreamDefaultWriter<Uint8Array>; hashed: number } | undefined;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS upload (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS parts (number INTEGER PRIMARY KEY, etag TEXT NOT NULL, size INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS tail (seq INTEGER PRIMARY KEY, data BLOB NOT NULL);
      CREATE TABLE IF NOT EXISTS head (seq INTEGER PRIMARY KEY, data BLOB NOT NULL);
    `);
  }

  async create(input: CreateInput): Promise<Outcome<UploadInfo>> {
    try {
      if (this.load()) throw tusError(409, 'This upload already exists.');
      const config = getConfig(this.env);
      const m = input.metadata;
      const filename = m.filename ?? m.name ?? m.filename_download ?? 'upload';
      // A malformed declared type is dropped (the sniffed type decides), never stored.
      const declaredType = wellFormedType(m.filetype ?? m.type);
      const form: Record<string, unknown> = {};
      for (const k of ['title', 'description', 'tags', 'filename_download', 'folder', 'location', 'metadata', 'access']) if (m[k] !== undefined) form[k] = m[k];
      const { fields } = parseFileFields(form, { allowStorage: false, fromForm: true });
      await assertFolder(this.deps(), fields);
      if (declaredType) assertTypeAllowed(declaredType, config.files.mimeTypeAllowList);

      let fileId: string = crypto.randomUUID();
      let storage = m.storage;
      const replaces = m.id !== undefined;
      if (replaces) {
        const existing = await requireFile(this.deps(), m.id as string);
        fileId = existing.id;
        if (storage !== undefined && storage !== existing.storage) throw tusError(400, '"storage" cannot change when replacing a file.');
        storage = existing.storage;
      }
      const client = storageFor(config, storage);
      const partSize = partSizeFor(client.location.tusChunkSize, input.length);
      const now = Date.now();
      const state: State = {
        owner: input.owner,
        status: 'active',
        length: input.length,
        maxSize: input.maxSize,
        offset: 0,
        partSize,
        storage: client.location.name,
        metadataHeader: input.metadataHeader,
        filename,
        declaredType,
        fields: { ...fields, filenameDownload: fields.filenameDownload ?? filename },
        fileId,
        replaces,
        uploadedBy: input.uploadedBy,
        type: undefined,
        key: undefined,
        s3UploadId: undefined,
        expirationMs: input.expirationMs,
        expiresAt: now + input.expirationMs,
        forgetAt: undefined,
      };
      this.save(state);
      await this.ctx.storage.setAlarm(state.expiresAt);
      if (state.length === 0) await this.complete(state);
      return { ok: true, value: this.info(state, state.status === 'completed') };
    } catch (error) {
      return this.failure(error);
    }
  }

  /** HEAD: the offset. A finished upload whose completion failed before is completed now. */
  async head(owner: string): Promise<Outcome<UploadInfo>> {
    try {
      const state = this.current(owner);
      if (state.status === 'active' && state.length !== undefined && state.offset === state.length && !this.busy) {
        this.busy = true;
        try {
          await this.complete(state);
        } finally {
          this.busy = false;
        }
        return { ok: true, value: this.info(state, true) };
      }
      return { ok: true, value: this.info(state) };
    } catch (error) {
      return this.failure(error);
    }
  }

  async append(input: AppendInput, body: ReadableStream<Uint8Array> | null): Promise<Outcome<UploadInfo>> {
    if (this.busy) {
      await body?.cancel().catch(() => {});
      return fail(tusError(423, 'Another request for this upload is in progress; retry when it has finished.'));
    }
    this.busy = true;
    try {
      const state = this.current(input.owner);
      if (state.status === 'completed') {
        if (input.offset === state.offset && (input.contentLength ?? 0) === 0) return { ok: true, value: this.info(state) };
        throw tusError(409, 'This upload is complete.');
      }
      if (input.offset !== state.offset) throw tusError(409, `Upload-Offset ${input.offset} does not match the server's offset ${state.offset}.`);
      if (input.length !== undefined) this.declareLength(state, input.length);
      const limit = state.length ?? state.maxSize;
      if (limit !== undefined && input.contentLength !== undefined && state.offset + input.contentLength > limit) {
        throw tusError(413, `This request would pass the upload's ${state.length !== undefined ? 'length' : 'maximum size'} of ${limit} bytes.`);
      }
      if (body) await this.receive(state, input, body);
      if (state.length !== undefined && state.offset === state.length) {
        await this.complete(state);
        return { ok: true, value: this.info(state, true) };
      }
      return { ok: true, value: this.info(state) };
    } catch (error) {
      await body?.cancel().catch(() => {});
      return this.failure(error);
    } finally {
      this.busy = false;
    }
  }

  /** DELETE (termination): the multipart upload is aborted and buffered bytes dropped at once. */
  async terminate(owner: string): Promise<Outcome<null>> {
    try {
      const state = this.current(owner);
      if (state.status === 'completed') throw tusError(409, 'A completed upload cannot be terminated; delete the file instead.');
      await this.discard(state, 'terminated');
      return { ok: true, value: null };
    } catch (error) {
      return this.failure(error);
    }
  }

  /** Expiry: aborts what an idle upload holds; later, forgets a finished one entirely. */
  override async alarm(): Promise<void> {
    const state = this.load();
    if (!state) return;
    const now = Date.now();
    if (state.status === 'active') {
      if (now < state.expiresAt) return void (await this.ctx.storage.setAlarm(state.expiresAt));
      await this.discard(state, 'expired');
      return;
    }
    if (state.forgetAt !== undefined && now >= state.forgetAt) {
      await this.ctx.storage.deleteAlarm();
      await this.ctx.storage.deleteAll();
      return;
    }
    if (state.forgetAt !== undefined) await this.ctx.storage.setAlarm(state.forgetAt);
  }

  private async receive(state: State, input: AppendInput, body: ReadableStream<Uint8Array>): Promise<void> {
    const client = this.client(state);
    const P = state.partSize;
    const cutter = new PartCutter(P);
    /** The final part of a known length is held back: it is sent at completion (or as a single PutObject). */
    const held: Uint8Array[] = [];
    let tailBytes = 0;
    for (const row of this.rows('tail')) {
      tailBytes += row.byteLength;
      held.push(...cutter.push(row));
    }
    let nextPart = (state.offset - tailBytes) / P + 1;
    const limit = state.length ?? state.maxSize;
    const requestDigest = input.checksum ? new crypto.DigestStream(CHECKSUM_ALGORITHMS[input.checksum.algorithm]) : undefined;
    const digestWriter = requestDigest?.getWriter();
    if (state.offset === 0 && !this.hash) this.startHash();
    if (this.hash && this.hash.hashed !== state.offset) this.hash = undefined;

    const headRows: Uint8Array[] = [];
    const uploaded: UploadedPart[] = [];
    let inFlight: Promise<UploadedPart> | undefined;
    let received = 0;
    let dropped = false;
    const isFinal = (partNumber: number) => state.length !== undefined && partNumber * P >= state.length;

    const reader = body.getReader();
    try {
      for (;;) {
        let next: ReadableStreamReadResult<Uint8Array>;
        try {
          next = await reader.read();
        } catch {
          dropped = true;
          break;
        }
        if (next.done) break;
        const chunk = next.value;
        const at = state.offset + received;
        if (limit !== undefined && at + chunk.byteLength > limit) {
          throw tusError(413, `The upload would pass its ${state.length !== undefined ? 'length' : 'maximum size'} of ${limit} bytes; nothing of this request was kept.`);
        }
        received += chunk.byteLength;
        // Digests are native and never refuse a chunk: queue the writes instead of waiting on each.
        digestWriter?.write(chunk).catch(() => {});
        this.hash?.writer.write(chunk).catch(() => {});
        if (at < HEAD_BYTES) headRows.push(chunk.slice(0, HEAD_BYTES - at));
        for (const part of cutter.push(chunk)) {
          if (isFinal(nextPart)) {
            held.push(part);
            continue;
          }
          await this.ensureKnown(state, headRows);
          if (!state.s3UploadId) {
            state.s3StartedAt = Date.now();
            state.s3UploadId = await client.createMultipartUpload(state.key as string, { contentType: state.type as string });
            this.save(state); // durable at once, so that expiry can always abort it
            await this.holdLease(state, true);
          }
          if (inFlight) uploaded.push(await inFlight);
          inFlight = client.uploadPart(state.key as string, state.s3UploadId, nextPart++, part);
          inFlight.catch(() => {});
        }
      }
      if (inFlight) uploaded.push(await inFlight);
    } catch (error) {
      this.hash = undefined;
      await reader.cancel().catch(() => {});
      throw error;
    }

    if (input.checksum && digestWriter && requestDigest) {
      await digestWriter.close();
      const actual = btoa(String.fromCharCode(...new Uint8Array(await requestDigest.digest)));
      if (dropped || actual !== input.checksum.digest) {
        this.hash = undefined;
        if (dropped) return;
        throw tusError(460, `The ${input.checksum.algorithm} checksum of this request's body does not match Upload-Checksum; its bytes were discarded.`);
      }
    }

    // Commit: the parts sent, the bytes that wait for a part, the head, the new offset, in one transaction.
    const rest = concat([...held, cutter.drain()]);
    state.offset += received;
    state.expiresAt = Date.now() + state.expirationMs;
    this.ctx.storage.transactionSync(() => {
      for (const p of uploaded) this.ctx.storage.sql.exec('INSERT OR REPLACE INTO parts (number, etag, size) VALUES (?, ?, ?)', p.partNumber, p.etag, p.size ?? 0);
      this.ctx.storage.sql.exec('DELETE FROM tail');
      for (let i = 0; i < rest.byteLength; i += ROW_BYTES) this.ctx.storage.sql.exec('INSERT INTO tail (seq, data) VALUES (?, ?)', i, rest.subarray(i, i + ROW_BYTES));
      // Count, not read: the head rows hold up to 256 KiB.
      const headSeq = headRows.length > 0 ? this.ctx.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM head').one().n : 0;
      headRows.forEach((row, i) => {
        if (row.byteLength > 0) this.ctx.storage.sql.exec('INSERT INTO head (seq, data) VALUES (?, ?)', headSeq + i, row);
      });
      this.save(state);
    });
    if (this.hash) this.hash.hashed = state.offset;
    await this.ctx.storage.setAlarm(state.expiresAt);
    if (state.s3UploadId) await this.holdLease(state);
  }

  /**
   * Keeps this upload in the record of live uploads (D1) while it holds anything in storage, so the
   * sweep leaves its multipart upload and key alone however long it runs. Written when the lease
   * would end within one expiration window: at most one D1 write per window of activity. `force`
   * writes at once (a new multipart upload id).
   */
  private async holdLease(state: State, force = false): Promise<void> {
    const next = force ? Date.now() + 2 * state.expirationMs : leaseRenewal(state.leaseUntil, Date.now(), state.expirationMs);
    if (next === undefined || !state.key) return;
    await this.deps().live.track({ id: this.ctx.id.toString(), storage: state.storage, key: state.key, s3UploadId: state.s3UploadId ?? null, liveUntil: next });
    state.leaseUntil = next;
    this.save(state);
  }

  /** Upload-Length arriving for a deferred upload: set once, never below what is stored. */
  private declareLength(state: State, length: number): void {
    if (state.length !== undefined) {
      if (state.length !== length) throw tusError(400, `Upload-Length is already ${state.length}.`);
      return;
    }
    if (length < state.offset) throw tusError(400, `Upload-Length ${length} is less than the ${state.offset} bytes already received.`);
    if (state.maxSize !== undefined && length > state.maxSize) throw tusError(413, `Upload-Length ${length} is over Tus-Max-Size ${state.maxSize}.`);
    state.length = length;
    this.save(state);
  }

  /**
   * The real type and the key, from the first bytes, before anything goes to S3. A refused type
   * ends the upload with 415 and nothing stored.
   */
  private async ensureKnown(state: State, pendingHead: Uint8Array[]): Promise<void> {
    if (state.key) return;
    const head = concat([...this.rows('head'), ...pendingHead]).subarray(0, HEAD_BYTES);
    const { type, ext } = await detectType(head, state.declaredType, state.filename);
    try {
      assertTypeAllowed(type, getConfig(this.env).files.mimeTypeAllowList);
    } catch (error) {
      await this.discard(state, 'terminated');
      throw error;
    }
    state.type = type;
    state.key = state.replaces ? replacementKey(state.fileId, ext) : originalKey(state.fileId, ext);
  }

  /**
   * Completion: the held-back bytes become the last part (or, when the whole upload fits in one
   * part, a single PutObject); CompleteMultipartUpload; then the same file record as POST /files.
   * Each step is recorded as it succeeds and every step is safe to repeat, so a completion cut at
   * any point (a lost answer from storage, an evicted object) is finished by the next HEAD or PATCH
   * without the client resending a byte.
   */
  private async complete(state: State): Promise<void> {
    await this.ensureKnown(state, []);
    const client = this.client(state);
    const key = state.key as string;
    if (!state.assembled) {
      const rest = concat(this.rows('tail'));
      if (!state.s3UploadId) {
        await this.holdLease(state, state.leaseUntil === undefined);
        await client.putObject(key, rest, { contentType: state.type as string, contentLength: rest.byteLength });
      } else {
        const parts = this.ctx.storage.sql
          .exec<{ number: number; etag: string; size: number }>('SELECT number, etag, size FROM parts ORDER BY number')
          .toArray()
          .map((p) => ({ partNumber: p.number, etag: p.etag, size: p.size }));
        // The last part may be in already: a completion that failed after sending it is resumed.
        const sent = parts.reduce((n, p) => n + p.size, 0);
        if (sent < state.offset || parts.length === 0) {
          const last = await client.uploadPart(key, state.s3UploadId, parts.length + 1, rest);
          this.ctx.storage.sql.exec('INSERT OR REPLACE INTO parts (number, etag, size) VALUES (?, ?, ?)', last.partNumber, last.etag, rest.byteLength);
          parts.push({ ...last, size: rest.byteLength });
        }
        await client.completeMultipartUpload(key, state.s3UploadId, parts, { size: state.offset, startedAt: state.s3StartedAt ?? 0 });
      }
      state.assembled = true;
      this.save(state);
    }
    if (state.checksum === undefined) {
      state.checksum = await this.checksum(state, client);
      this.save(state);
    }
    const deps = this.deps();
    const ingested = await learnStored(deps, client, { key, type: state.type as string, size: state.offset, checksum: state.checksum, head: concat(this.rows('head')) });
    const fields = { ...(state.fields as Parameters<typeof recordNewFile>[4]) };
    // The folder was checked when the upload was created; deleted since, the file lands at the root,
    // as the files already in it did.
    if (fields.folder && !(await deps.repo.folderExists(fields.folder))) fields.folder = null;
    const row = state.replaces
      ? await recordReplacement(deps, client, await requireFile(deps, state.fileId), ingested, fields)
      : await recordNewFile(deps, client, state.fileId, ingested, fields, state.uploadedBy);
    state.fileId = row.id;
    await this.end(state, 'completed', state.expiresAt);
  }

  /** The SHA-256 of the whole upload: from the running hash, or by reading the object once. */
  private async checksum(state: State, client: S3Client): Promise<string> {
    if (this.hash && this.hash.hashed === state.offset) {
      await this.hash.writer.close();
      const digest = await this.hash.stream.digest;
      this.hash = undefined;
      return hex(digest);
    }
    this.hash = undefined;
    const object = await client.readObject(state.key as string);
    const stream = new crypto.DigestStream('SHA-256');
    const writer = stream.getWriter();
    const reader = object?.body.getReader();
    for (;;) {
      const next = await reader?.read();
      if (!next || next.done) break;
      await writer.write(next.value);
    }
    await writer.close();
    return hex(await stream.digest);
  }

  /**
   * Ends an upload that will not complete: its multipart upload is aborted, and an object it
   * assembled but never recorded is deleted (unless a record points to it after all). What cannot be
   * removed now is left to the sweep, which this upload no longer holds back.
   */
  private async discard(state: State, status: 'terminated' | 'expired'): Promise<void> {
    const client = this.client(state);
    const leftOver = (error: Error) => log('warn', 'upload storage left for the sweep', { upload: this.ctx.id.toString(), key: state.key, reason: error.message });
    if (state.s3UploadId && state.key) await client.abortMultipartUpload(state.key, state.s3UploadId).catch(leftOver);
    if (state.assembled && state.key) {
      const row = await this.deps().repo.get(state.fileId);
      if (row?.filenameDisk !== state.key) await client.deleteObject(state.key).catch(leftOver);
    }
    this.hash = undefined;
    await this.end(state, status, Date.now() + state.expirationMs);
  }

  /** An upload's last state: its bytes and parts dropped, a tombstone kept until `forgetAt`. */
  private async end(state: State, status: Exclude<UploadStatus, 'active'>, forgetAt: number): Promise<void> {
    state.status = status;
    state.s3UploadId = undefined;
    state.forgetAt = forgetAt;
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec('DELETE FROM tail');
      this.ctx.storage.sql.exec('DELETE FROM head');
      this.ctx.storage.sql.exec('DELETE FROM parts');
      this.save(state);
    });
    await this.ctx.storage.setAlarm(forgetAt);
    // A lease that cannot be dropped now simply runs out.
    if (state.leaseUntil !== undefined) await this.deps().live.forget(this.ctx.id.toString()).catch(() => {});
  }

  private startHash(): void {
    const stream = new crypto.DigestStream('SHA-256');
    this.hash = { stream, writer: stream.getWriter(), hashed: 0 };
  }

  /** The committed state for `owner`: 404 for an unknown upload or another token's, 410 once ended. */
  private current(owner: string): State {
    const state = this.load();
    if (!state || state.owner !== owner) throw tusError(404, 'Upload not found.');
    if (state.status === 'terminated' || state.status === 'expired') throw tusError(410, `This upload was ${state.status}.`);
    if (state.status === 'active' && Date.now() >= state.expiresAt) throw tusError(410, 'This upload expired.');
    return state;
  }

  private info(state: State, completedNow = false): UploadInfo {
    return {
      offset: state.offset,
      length: state.length,
      metadataHeader: state.metadataHeader,
      expiresAt: state.expiresAt,
      fileId: state.status === 'completed' ? state.fileId : undefined,
      replaced: completedNow && state.replaces,
    };
  }

  private load(): State | undefined {
    const row = this.ctx.storage.sql.exec<{ state: string }>('SELECT state FROM upload WHERE id = 1').toArray()[0];
    return row ? (JSON.parse(row.state) as State) : undefined;
  }

  private save(state: State): void {
    this.ctx.storage.sql.exec('INSERT OR REPLACE INTO upload (id, state) VALUES (1, ?)', JSON.stringify(state));
  }

  private rows(table: 'tail' | 'head'): Uint8Array[] {
    return this.ctx.storage.sql
      .exec<{ data: ArrayBuffer }>(`SELECT data FROM ${table} ORDER BY seq`)
      .toArray()
      .map((r) => new Uint8Array(r.data));
  }

  private client(state: State): S3Client {
    return storageFor(getConfig(this.env), state.storage);
  }

  private deps(): FilesDeps {
    return { config: getConfig(this.env), repo: new FilesRepository(this.env.DB), live: new LiveUploadsRepository(this.env.DB) };
  }

  private failure(error: unknown): Outcome<never> {
    if (error instanceof AppError) return fail(error);
    log('error', 'upload session: unexpected error', { upload: this.ctx.id.toString(), error: String(error) });
    return fail(new AppError('INTERNAL', 'The upload failed unexpectedly; HEAD tells how much was stored.'));
  }
}

