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
  recordNewFile,
  recordReplacement,
  requireFile,
} from '../files/service';
import { chooseKey } from '../files/naming';
import { storageFor } from '../storage';
import { concat } from '../lib/bytes';
import { ResumableSha256 } from '../lib/resumable-sha256';
import { log } from '../lib/log';
import { MAX_PARTS, partSizeFor } from '../storage/parts';
import type { S3Client, UploadedPart } from '../storage/s3-client';
import { assembleStep, type AssemblyLedger, claimPartials, headOfPartials, type PartialInfo, type PartialUpload, readRange, releasePartials } from './assembler';
import { BodySlicer, joinStreams } from './byte-path';
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm, type Outcome, refusal, tusError } from './tus-protocol';

/**
 * Staged bytes and partial uploads live under `uploads/<upload id>/` (see the README's lifecycle
 * rule), one level deep: s3rver's listings miss keys nested further under a common prefix.
 */
export const UPLOADS_PREFIX = 'uploads/';

/** A body without Content-Length is read in pieces of at most this: the one path that buffers. */
const UNSIZED_PIECE = 8 * 1024 * 1024;

/** A background checksum reads this much at a time, saving its state after each read. */
const HASH_READ = 256 * 1024 * 1024;
/** ...and hands over to its next alarm after this long, so no one invocation runs for hours. */
const HASH_RUN_MS = 60_000;

/** A final upload's assembly runs in alarm steps of about this long, each part committed as it lands. */
const ASSEMBLY_STEP_MS = 30_000;
/** An assembly step that fails is tried again this many times (a storage hiccup) before the upload fails. */
const ASSEMBLY_ATTEMPTS = 3;

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
interface Segment {
  start: number;
  key: string;
  size: number;
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
  /** The running SHA-256 of bytes [0, offset), saved with each commit (ResumableSha256). */
  hash?: string;
  /** The SHA-256 of the whole upload, once known (null: computed after completion, in `hashing`). */
  checksum?: string | null;
  /** A final upload's checksum being computed in the background: the saved hash of bytes read so far. */
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
interface Working {
  offset: number;
  partsSent: number;
  newParts: UploadedPart[];
  /** The staged segments as they now are (committed ones, less those sent in a part, plus new ones). */
  staged: Segment[];
  head: Uint8Array[];
  assembled: boolean;
}

const total = (segments: Segment[]) => segments.reduce((n, s) => n + s.size, 0);

/**
 * One TUS upload (tus.io 1.0.0), owning its offset and its S3 multipart upload. Requests for the
 * upload are serialized here; a second PATCH while one runs gets 423 at once.
 *
 * Parts: every part but the last is exactly P bytes whatever the clients' PATCH sizes (R2 requires
 * equal parts). When a PATCH carries what the current part still needs, exactly that many bytes
 * stream from the body into UploadPart behind the part's staged bytes (fixed length, never held);
 * bytes that do not fill a part are staged as an object of their own under `uploads/<id>/staged-<offset>`
 * and read back into the part they belong to. Memory stays flat whatever P is (up to 5 GiB).
 *
 * Each part sent and each segment staged is committed at once (offset, running SHA-256 state, the
 * head): a PATCH cut in the middle keeps everything before the piece it was sending, and the offset
 * stays at that piece's start — a streamed piece cannot be resent by the Worker, the client's resend
 * is the retry. A PATCH with Upload-Checksum is all or nothing: committed only when its digest
 * matches (460 otherwise); what it sent meanwhile is simply sent again (part numbers follow from
 * offsets).
 */
export class UploadSession extends DurableObject<Bindings> {
  private busy = false;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS upload (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS parts (number INTEGER PRIMARY KEY, etag TEXT NOT NULL, size INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS staged (start INTEGER PRIMARY KEY, key TEXT NOT NULL, size INTEGER NOT NULL);
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
      const partial = input.concat !== undefined && 'partial' in input.concat;
      if (!partial) await assertFolder(this.deps(), fields);
      if (declaredType && !partial) assertTypeAllowed(declaredType, config.files.mimeTypeAllowList);

      let fileId: string = crypto.randomUUID();
      let storage = m.storage;
      const replaces = m.id !== undefined && !partial;
      if (replaces) {
        const existing = await requireFile(this.deps(), m.id as string);
        fileId = existing.id;
        if (storage !== undefined && storage !== existing.storage) throw tusError(400, '"storage" cannot change when replacing a file.');
        storage = existing.storage;
      }
      const client = storageFor(config, storage);
      const claimant = { owner: input.owner, finalId: this.ctx.id.toString() };
      const final = input.concat !== undefined && 'final' in input.concat ? await claimPartials(this.partial, claimant, client.location.name, input.concat.final) : undefined;
      const length = final ? final.reduce((n, p) => n + p.size, 0) : input.length;
      if (final && input.maxSize !== undefined && (length ?? 0) > input.maxSize) {
        await releasePartials(this.partial, claimant, final, false);
        throw tusError(413, `The concatenated upload (${length} bytes) is over Tus-Max-Size ${input.maxSize} (TUS_MAX_SIZE, FILES_MAX_UPLOAD_SIZE); nothing was copied.`);
      }
      const now = Date.now();
      const state: State = {
        owner: input.owner,
        status: 'active',
        length,
        maxSize: input.maxSize,
        offset: final ? (length ?? 0) : 0,
        partSize: partSizeFor(client.location.tusChunkSize, length),
        storage: client.location.name,
        metadataHeader: input.metadataHeader,
        filename,
        declaredType,
        fields: { ...fields, filenameDownload: fields.filenameDownload ?? filename },
        fileId,
        replaces,
        uploadedBy: input.uploadedBy,
        type: partial ? 'application/octet-stream' : undefined,
        key: partial ? `${this.prefix()}object` : undefined,
        s3UploadId: undefined,
        ...(partial ? { concat: 'partial' as const, concatHeader: 'partial' } : {}),
        ...(final && input.concat && 'header' in input.concat ? { concat: 'final' as const, concatHeader: input.concat.header, partials: final } : {}),
        expirationMs: input.expirationMs,
        expiresAt: now + input.expirationMs,
        forgetAt: undefined,
      };
      this.save(state);
      // A final upload is assembled by its alarm, however many partial uploads it names: the POST answers at once.
      await this.ctx.storage.setAlarm(final ? now : state.expiresAt);
      if (!final && state.length === state.offset) await this.complete(state);
      return { ok: true, value: this.info(state, state.status === 'completed') };
    } catch (error) {
      return this.failure(error);
    }
  }

  /** HEAD: the offset. A finished upload whose completion failed before is completed now. */
  async head(owner: string): Promise<Outcome<UploadInfo>> {
    try {
      const state = this.current(owner);
      if (state.status === 'active' && state.concat !== 'final' && state.length !== undefined && state.offset === state.length && !this.busy) {
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
      await refuseBody(body, input.contentLength);
      return refusal(tusError(423, 'Another request for this upload is in progress; retry when it has finished.'));
    }
    let outcome: Outcome<UploadInfo>;
    this.busy = true;
    try {
      const state = this.current(input.owner);
      if (state.concat === 'final') throw tusError(403, 'A final upload is made of its partial uploads and takes no PATCH.');
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
      outcome = this.failure(error);
    } finally {
      this.busy = false;
    }
    // A body refused before it was read (a wrong offset, say) is read to its end, outside the lock.
    if (body && !body.locked) await refuseBody(body, input.contentLength);
    else await body?.cancel().catch(() => {});
    return outcome;
  }

  /** DELETE (termination): the multipart upload is aborted and staged bytes dropped at once. */
  async terminate(owner: string): Promise<Outcome<null>> {
    try {
      const state = this.current(owner);
      if (state.status === 'completed' && state.concat !== 'partial') throw tusError(409, 'A completed upload cannot be terminated; delete the file instead.');
      if (state.concat === 'final') throw tusError(409, 'A final upload is being assembled; HEAD tells when it has finished.');
      if (state.claimedBy) throw tusError(409, 'A final upload is being assembled from this partial upload; it is used up once that has finished.');
      await this.discard(state, 'terminated');
      return { ok: true, value: null };
    } catch (error) {
      return this.failure(error);
    }
  }

  /**
   * For final upload `finalId` being created: claims this completed partial upload and answers its
   * object. The check and the claim are one step of this object's single thread (no await between),
   * so of concurrent finals naming it exactly one wins; the others get 409 (410 once it is used up).
   * Claiming again for the same final is harmless.
   */
  async claimPartial(owner: string, finalId: string): Promise<Outcome<PartialInfo>> {
    try {
      const state = this.current(owner);
      if (state.concat !== 'partial') throw tusError(400, 'Upload-Concat: final may only list partial uploads.');
      if (state.status !== 'completed' || !state.assembled) throw tusError(400, 'A partial upload in Upload-Concat is not complete yet; finish it first.');
      // Past its expiry its object may be being deleted by the alarm at this very moment.
      if (state.claimedBy === undefined && Date.now() >= state.expiresAt) throw tusError(410, 'A partial upload in Upload-Concat has expired.');
      if (state.claimedBy !== undefined && state.claimedBy !== finalId) throw tusError(409, 'A partial upload in Upload-Concat is already used by another final upload.');
      state.claimedBy = finalId;
      this.save(state);
      return { ok: true, value: { id: this.ctx.id.toString(), storage: state.storage, key: state.key as string, size: state.offset } };
    } catch (error) {
      return this.failure(error);
    }
  }

  /**
   * Final upload `finalId` is done with this partial upload: `used`, its object goes now rather than
   * at expiry; otherwise (the final failed) the claim is dropped and the partial may be used again.
   */
  async releasePartial(owner: string, finalId: string, used: boolean): Promise<void> {
    const state = this.load();
    if (state?.owner !== owner || state.concat !== 'partial' || state.status !== 'completed' || state.claimedBy !== finalId) return;
    delete state.claimedBy;
    if (!used) return void this.save(state);
    await this.client(state).deletePrefix(this.prefix()).catch((error: Error) => this.leftOver(state, error));
    await this.end(state, 'terminated', Date.now() + state.expirationMs);
  }

  /**
   * Expiry: aborts what an idle upload holds (and a partial upload's object once no final upload
   * took it); later, forgets a finished one entirely. Also runs a final upload's background checksum.
   */
  override async alarm(): Promise<void> {
    const state = this.load();
    if (!state) return;
    const now = Date.now();
    if (state.hashing) return this.hashInBackground(state);
    if (state.concat === 'final' && state.status === 'active') return this.assemblyStep(state);
    if (state.claimedBy && state.status === 'completed') {
      // A final upload is reading this partial upload: kept (and leased) until it releases it.
      await this.holdLease(state);
      return void (await this.ctx.storage.setAlarm(now + state.expirationMs));
    }
    if (state.status === 'active' || (state.concat === 'partial' && state.status === 'completed')) {
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
    await this.adoptLegacyTail(state);
    const start = state.offset;
    const P = state.partSize;
    const hasher = this.runningHash(state);
    const requestDigest = input.checksum ? new crypto.DigestStream(CHECKSUM_ALGORITHMS[input.checksum.algorithm]) : undefined;
    const digestWriter = requestDigest?.getWriter();
    const w: Working = { offset: start, partsSent: this.partCount(), newParts: [], staged: this.segments(), head: [], assembled: false };
    const slicer = new BodySlicer(body, (chunk, at) => {
      hasher?.update(chunk);
      // Digests are native and never refuse a chunk: queue the writes instead of waiting on each.
      digestWriter?.write(chunk).catch(() => {});
      if (start + at < HEAD_BYTES && state.concat !== 'partial') w.head.push(chunk.slice(0, HEAD_BYTES - start - at));
    });
    // With Upload-Checksum the request is all or nothing; otherwise each piece is kept as it lands.
    const atomic = input.checksum !== undefined;
    const limit = state.length ?? state.maxSize;
    try {
      for (;;) {
        const remaining = input.contentLength === undefined ? undefined : input.contentLength - slicer.consumed;
        if (remaining === 0 || (remaining === undefined && (await slicer.atEnd()))) break;
        if (limit !== undefined && w.offset >= limit) {
          throw tusError(413, `The upload would pass its ${state.length !== undefined ? 'length' : 'maximum size'} of ${limit} bytes; the bytes up to it were kept.`);
        }
        const stagedBytes = total(w.staged);
        const partLength = state.length === undefined ? P : Math.min(P, state.length - (w.offset - stagedBytes));
        const need = partLength - stagedBytes;
        if (remaining === undefined) {
          const bytes = await slicer.takeBuffered(Math.min(need, UNSIZED_PIECE, (limit ?? Number.POSITIVE_INFINITY) - w.offset));
          await (bytes.byteLength === need ? this.sendPart(state, w, slicer, partLength, () => bytes, need) : this.stage(state, w, bytes, bytes.byteLength));
        } else if (remaining >= need) {
          await this.sendPart(state, w, slicer, partLength, () => slicer.take(need), need);
        } else {
          await this.stage(state, w, slicer.take(remaining), remaining);
        }
        if (!atomic) await this.commit(state, w, hasher);
      }
    } catch (error) {
      await slicer.cancel();
      // The client went away mid-piece: what was committed stands, and there is no one to answer.
      if (slicer.dropped) return void (await this.touch(state));
      throw error;
    }
    if (slicer.dropped) return void (await this.touch(state));
    if (input.checksum && digestWriter && requestDigest) {
      await digestWriter.close();
      const actual = btoa(String.fromCharCode(...new Uint8Array(await requestDigest.digest)));
      if (actual !== input.checksum.digest) {
        const committed = new Set(this.segments().map((s) => s.key));
        const sent = w.staged.filter((s) => !committed.has(s.key)).map((s) => s.key);
        if (sent.length > 0) await this.client(state).deleteObjects(sent).catch((error: Error) => this.leftOver(state, error));
        throw tusError(460, `The ${input.checksum.algorithm} checksum of this request's body does not match Upload-Checksum; its bytes were discarded.`);
      }
      await this.commit(state, w, hasher);
    }
    await this.touch(state);
  }

  /**
   * Sends part `w.partsSent + 1`: the staged segments, then `need` bytes of the body. When the whole
   * upload is this one part, it is a single PutObject of the original instead. The body's piece is
   * taken only once the type is known: sniffing peeks at the same body.
   */
  private async sendPart(state: State, w: Working, slicer: BodySlicer, partLength: number, piece: () => Uint8Array | ReadableStream<Uint8Array>, need: number): Promise<void> {
    if (!state.key) await this.ensureKnown(state, await this.headOf(w, slicer));
    const client = this.client(state);
    const tail = piece();
    const body = w.staged.length === 0 ? tail : this.segmentsThen(client, w.staged, tail);
    if (state.length !== undefined && state.length <= state.partSize) {
      await this.holdLease(state, state.leaseUntil === undefined);
      await client.putObject(state.key as string, body, { contentType: state.type as string, contentLength: partLength });
      w.assembled = true;
    } else {
      if (w.partsSent >= MAX_PARTS) {
        throw tusError(413, `This upload needs more than ${MAX_PARTS} parts of ${state.partSize} bytes; create it with its Upload-Length, or raise TUS__CHUNK_SIZE.`);
      }
      const uploadId = await this.multipartUpload(state);
      w.newParts.push(await client.uploadPart(state.key as string, uploadId, w.partsSent + 1, body, partLength));
      w.partsSent++;
    }
    w.offset += need;
    w.staged = [];
  }

  /** Stages bytes that do not fill a part: an object of their own, read back into their part later. */
  private async stage(state: State, w: Working, bytes: Uint8Array | ReadableStream<Uint8Array>, size: number): Promise<void> {
    if (size === 0) return;
    const key = `${this.prefix()}staged-${w.offset}`;
    await this.holdLease(state, state.leaseUntil === undefined);
    await this.client(state).putObject(key, bytes, { contentLength: size });
    w.staged.push({ start: w.offset, key, size });
    w.offset += size;
  }

  /**
   * Uploads begun before parts streamed kept the bytes short of a part in a `tail` table: they are
   * staged like any now, so such an upload goes on (its checksum is then read from storage once).
   */
  private async adoptLegacyTail(state: State): Promise<void> {
    const sql = this.ctx.storage.sql;
    if (sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'tail'").toArray().length === 0) return;
    const tail = concat(sql.exec<{ data: ArrayBuffer }>('SELECT data FROM tail ORDER BY seq').toArray().map((r) => new Uint8Array(r.data)));
    const start = state.offset - tail.byteLength;
    const key = `${this.prefix()}staged-${start}`;
    if (tail.byteLength > 0) {
      await this.holdLease(state, state.leaseUntil === undefined);
      await this.client(state).putObject(key, tail, { contentLength: tail.byteLength });
    }
    this.ctx.storage.transactionSync(() => {
      if (tail.byteLength > 0) sql.exec('INSERT INTO staged (start, key, size) VALUES (?, ?, ?)', start, key, tail.byteLength);
      sql.exec('DROP TABLE tail');
    });
  }

  /**
   * Makes a PATCH's progress durable in one transaction; segments sent in parts are deleted after,
   * before the next piece (s3rver loses a write racing a delete in the same folder).
   */
  private async commit(state: State, w: Working, hasher: ResumableSha256 | undefined): Promise<void> {
    const before = this.segments();
    state.offset = w.offset;
    if (w.assembled) state.assembled = true;
    if (hasher) state.hash = hasher.save();
    state.expiresAt = Date.now() + state.expirationMs;
    this.ctx.storage.transactionSync(() => {
      const sql = this.ctx.storage.sql;
      for (const p of w.newParts) sql.exec('INSERT OR REPLACE INTO parts (number, etag, size) VALUES (?, ?, ?)', p.partNumber, p.etag, p.size ?? 0);
      sql.exec('DELETE FROM staged');
      for (const s of w.staged) sql.exec('INSERT INTO staged (start, key, size) VALUES (?, ?, ?)', s.start, s.key, s.size);
      // Count, not read: the head rows hold up to 256 KiB.
      const headSeq = w.head.length > 0 ? sql.exec<{ n: number }>('SELECT count(*) AS n FROM head').one().n : 0;
      w.head.forEach((row, i) => {
        if (row.byteLength > 0) sql.exec('INSERT INTO head (seq, data) VALUES (?, ?)', headSeq + i, row);
      });
      this.save(state);
    });
    w.newParts = [];
    w.head = [];
    const sent = before.filter((s) => !w.staged.some((t) => t.key === s.key)).map((s) => s.key);
    if (sent.length > 0) await this.client(state).deleteObjects(sent).catch((error: Error) => this.leftOver(state, error));
  }

  /** After a PATCH: the expiry moves on, and the lease with it. */
  private async touch(state: State): Promise<void> {
    await this.ctx.storage.setAlarm(state.expiresAt);
    if (state.leaseUntil !== undefined) await this.holdLease(state);
  }

  /** The running SHA-256 for this upload's next bytes; none for partial uploads (the final one hashes). */
  private runningHash(state: State): ResumableSha256 | undefined {
    if (state.concat) return undefined;
    const hasher = ResumableSha256.load(state.hash);
    return hasher.hashed === state.offset ? hasher : undefined;
  }

  /** The first bytes of the upload (up to HEAD_BYTES): stored ones, this request's, then a peek at the body. */
  private async headOf(w: Working, slicer: BodySlicer): Promise<Uint8Array> {
    const known = concat([...this.rows(), ...w.head]);
    return known.byteLength >= HEAD_BYTES ? known : concat([known, await slicer.peek(HEAD_BYTES - known.byteLength)]);
  }

  /** The multipart upload of the original, created (and made durable, and leased) on first use. */
  private async multipartUpload(state: State): Promise<string> {
    if (!state.s3UploadId) {
      state.s3StartedAt = Date.now();
      state.s3UploadId = await this.client(state).createMultipartUpload(state.key as string, { contentType: state.type as string });
      this.save(state); // durable at once, so that expiry can always abort it
      await this.holdLease(state, true);
    }
    return state.s3UploadId;
  }

  /** Staged segments read back from storage, then `tail`: one part's body. */
  private segmentsThen(client: S3Client, segments: Segment[], tail?: Uint8Array | ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    const sources = segments.map((s) => () => readRange(client, { key: s.key, start: 0, end: s.size }));
    if (tail !== undefined) sources.push(async () => (tail instanceof ReadableStream ? tail : new Blob([tail]).stream()));
    return joinStreams(sources);
  }

  /**
   * Keeps this upload in the record of live uploads (D1) while it holds anything in storage, so the
   * sweep leaves its multipart upload, key and staged bytes alone however long it runs. Written when
   * the lease would end within one expiration window: at most one D1 write per window of activity.
   * `force` writes at once (a new multipart upload id).
   */
  private async holdLease(state: State, force = false): Promise<void> {
    const next = force ? Date.now() + 2 * state.expirationMs : leaseRenewal(state.leaseUntil, Date.now(), state.expirationMs);
    if (next === undefined) return;
    await this.deps().live.track({ id: this.ctx.id.toString(), storage: state.storage, key: state.key ?? this.prefix(), s3UploadId: state.s3UploadId ?? null, liveUntil: next });
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
   * The real type and the key, from the first bytes, before anything goes to the original's key. A
   * refused type ends the upload with 415 and nothing kept.
   */
  private async ensureKnown(state: State, head: Uint8Array): Promise<void> {
    const { type, ext, typeExt } = await detectType(head.subarray(0, HEAD_BYTES), state.declaredType, state.filename);
    try {
      assertTypeAllowed(type, getConfig(this.env).files.mimeTypeAllowList);
    } catch (error) {
      await this.discard(state, 'terminated');
      throw error;
    }
    state.type = type;
    // The upload's own lease row holds a name-derived key (File Naming `original`) while it lives.
    const owner = { id: this.ctx.id.toString(), until: Date.now() + 2 * state.expirationMs };
    state.key = (await chooseKey(this.deps().repo, this.client(state), { id: state.fileId, ext, typeExt, filename: state.filename, replaces: state.replaces, owner })).key;
    this.save(state);
  }

  /**
   * Completion: the staged bytes become the last part (or, when no part was sent, a single
   * PutObject); CompleteMultipartUpload; then the same file record as POST /files. Each step is
   * recorded as it succeeds and every step is safe to repeat, so a completion cut at any point (a
   * lost answer from storage, an evicted object) is finished by the next HEAD or PATCH without the
   * client resending a byte. A partial upload stops at its object; a final one assembles its object
   * from its partial uploads' and hashes it afterwards.
   */
  private async complete(state: State, deadline = Number.POSITIVE_INFINITY): Promise<boolean> {
    await this.adoptLegacyTail(state);
    const client = this.client(state);
    if (!state.assembled) {
      if (state.concat !== 'final') await this.assemble(state, client);
      else if (!(await this.assembleFinalStep(state, client, deadline))) return false;
      state.assembled = true;
      this.save(state);
      await client.deletePrefix(`${this.prefix()}staged-`).catch((error: Error) => this.leftOver(state, error));
    }
    if (state.concat === 'partial') {
      // Kept for a final upload until the upload expires (the alarm then removes it).
      state.status = 'completed';
      this.save(state);
      return true;
    }
    if (state.checksum === undefined) {
      state.checksum = state.concat === 'final' ? null : await this.checksum(state, client);
      this.save(state);
    }
    const deps = this.deps();
    const head = state.concat === 'final' ? ((await client.readBytes(state.key as string, { start: 0, end: Math.min(HEAD_BYTES, state.offset) })) ?? new Uint8Array(0)) : concat(this.rows());
    const ingested = await learnStored(deps, client, { key: state.key as string, type: state.type as string, size: state.offset, checksum: state.checksum, head });
    const fields = { ...(state.fields as Parameters<typeof recordNewFile>[4]) };
    // The folder was checked when the upload was created; deleted since, the file lands at the root,
    // as the files already in it did.
    if (fields.folder && !(await deps.repo.folderExists(fields.folder))) fields.folder = null;
    const row = state.replaces
      ? await recordReplacement(deps, client, await requireFile(deps, state.fileId), ingested, fields)
      : await recordNewFile(deps, client, state.fileId, ingested, fields, state.uploadedBy);
    state.fileId = row.id;
    if (state.partials) await releasePartials(this.partial, this.claimant(state), state.partials, true);
    if (state.checksum === null) state.hashing = { hash: undefined };
    await this.end(state, 'completed', state.expiresAt);
    if (state.hashing) await this.ctx.storage.setAlarm(Date.now());
    return true;
  }

  /** A final upload's object, as far as `deadline` allows (see assembleStep): true once complete. */
  private async assembleFinalStep(state: State, client: S3Client, deadline: number): Promise<boolean> {
    const partials = state.partials ?? [];
    if (!state.key) await this.ensureKnown(state, await headOfPartials(client, partials, Math.min(HEAD_BYTES, state.offset)));
    const assembly = { key: state.key as string, type: state.type as string, partials, length: state.offset, partSize: state.partSize, copyParts: state.copyParts !== false };
    return assembleStep(client, assembly, this.ledger(state), deadline);
  }

  /** The object from the parts sent and the staged bytes (a deferred length, or bytes that came in pieces). */
  private async assemble(state: State, client: S3Client): Promise<void> {
    const staged = this.segments();
    if (!state.s3UploadId) {
      if (!state.key) await this.ensureKnown(state, concat(this.rows()));
      await this.holdLease(state, state.leaseUntil === undefined);
      const size = total(staged);
      await client.putObject(state.key as string, staged.length > 0 ? this.segmentsThen(client, staged) : new Uint8Array(0), { contentType: state.type as string, contentLength: size });
      return;
    }
    const parts = this.partList();
    if (staged.length > 0) {
      const size = total(staged);
      const last = await client.uploadPart(state.key as string, state.s3UploadId, parts.length + 1, this.segmentsThen(client, staged), size);
      // Sent: the part is recorded and its segments are no longer staged, so a resumed completion does not send it again.
      this.ctx.storage.transactionSync(() => {
        this.ctx.storage.sql.exec('INSERT OR REPLACE INTO parts (number, etag, size) VALUES (?, ?, ?)', last.partNumber, last.etag, size);
        this.ctx.storage.sql.exec('DELETE FROM staged');
      });
      parts.push({ ...last, size });
    }
    await client.completeMultipartUpload(state.key as string, state.s3UploadId, parts, { size: state.offset, startedAt: state.s3StartedAt ?? 0 });
  }

  /**
   * One step of a final upload's assembly, in its alarm: parts are copied until ASSEMBLY_STEP_MS has
   * passed, then the next alarm goes on from the last part recorded (an eviction resumes the same
   * way). A step that fails is retried a few times, then the upload fails: what it wrote goes, its
   * partial uploads are released for another try, and HEAD answers the error.
   */
  private async assemblyStep(state: State): Promise<void> {
    try {
      // Alive while it assembles: its expiry (and, once done, how long HEAD still answers with the
      // file id) runs from the latest step, not from its creation, however long the assembly takes.
      state.expiresAt = Date.now() + state.expirationMs;
      if (!(await this.complete(state, Date.now() + ASSEMBLY_STEP_MS))) {
        // A step that made progress starts the count of failed attempts again.
        state.assemblyFailures = 0;
        this.save(state);
        await this.ctx.storage.setAlarm(Date.now());
      }
    } catch (error) {
      const failures = (state.assemblyFailures ?? 0) + 1;
      const failure = error instanceof AppError ? error : new AppError('STORAGE_ERROR', 'The final upload could not be assembled from its partial uploads.');
      log('warn', 'final upload: assembly step failed', { upload: this.ctx.id.toString(), attempt: failures, error: String(error) });
      // A file already recorded is not undone by what failed after it (its checksum's alarm, say).
      if (state.status === 'completed') return;
      if (state.status !== 'active') return void (await this.discard(state, 'failed', failure));
      if (failures < ASSEMBLY_ATTEMPTS) {
        state.assemblyFailures = failures;
        this.save(state);
        return void (await this.ctx.storage.setAlarm(Date.now() + 1000 * 2 ** failures));
      }
      await this.discard(state, 'failed', failure);
    }
  }

  /** The ledger of a final upload's assembly: its parts table, multipart upload and lease. */
  private ledger(state: State): AssemblyLedger {
    return {
      parts: () => this.partList(),
      record: (p) => void this.ctx.storage.sql.exec('INSERT OR REPLACE INTO parts (number, etag, size) VALUES (?, ?, ?)', p.partNumber, p.etag, p.size ?? 0),
      uploadId: () => this.multipartUpload(state),
      holdLease: () => this.holdLease(state),
      copyRefused: () => {
        state.copyParts = false;
        this.save(state);
      },
      startedAt: () => state.s3StartedAt ?? 0,
    };
  }

  private claimant(state: State) {
    return { owner: state.owner, finalId: this.ctx.id.toString() };
  }

  /** The partial upload `id` as its final upload sees it (this upload is the final). */
  private partial = (id: string): PartialUpload => this.env.UPLOADS.get(this.env.UPLOADS.idFromString(id));

  /** The SHA-256 of the whole upload: from the running hash, or (uploads from before it) by reading the object once. */
  private async checksum(state: State, client: S3Client): Promise<string> {
    const hasher = this.runningHash(state);
    if (hasher) return hasher.hex();
    return (await this.hashObject(client, state.key as string, state.offset, ResumableSha256.load(undefined), Number.POSITIVE_INFINITY)).hex();
  }

  /**
   * A final upload's checksum, after its record exists: the object is read in ranges, the hash state
   * saved after each, and the work handed to a new alarm every HASH_RUN_MS, so an eviction or a
   * terabyte costs no restart. The record shows the checksum once it is known (unless its bytes
   * were replaced meanwhile).
   */
  private async hashInBackground(state: State): Promise<void> {
    const client = this.client(state);
    const hasher = ResumableSha256.load(state.hashing?.hash);
    const deadline = Date.now() + HASH_RUN_MS;
    await this.hashObject(client, state.key as string, state.offset, hasher, deadline, (h) => {
      state.hashing = { hash: h.save() };
      this.save(state);
    });
    if (hasher.hashed < state.offset) return void (await this.ctx.storage.setAlarm(Date.now()));
    const checksum = hasher.hex();
    const repo = this.deps().repo;
    const row = await repo.get(state.fileId);
    if (row?.filenameDisk === state.key) await repo.update(state.fileId, { checksum });
    state.checksum = checksum;
    delete state.hashing;
    this.save(state);
    await this.ctx.storage.setAlarm(state.forgetAt ?? Date.now());
  }

  /** Feeds bytes [hasher.hashed, size) of `key` to `hasher`, a range at a time, until done or past `deadline`. */
  private async hashObject(client: S3Client, key: string, size: number, hasher: ResumableSha256, deadline: number, saved?: (h: ResumableSha256) => void): Promise<ResumableSha256> {
    while (hasher.hashed < size && Date.now() < deadline) {
      const end = Math.min(size, hasher.hashed + HASH_READ);
      const reader = (await readRange(client, { key, start: hasher.hashed, end })).getReader();
      for (;;) {
        const next = await reader.read();
        if (next.done) break;
        hasher.update(next.value);
      }
      saved?.(hasher);
    }
    return hasher;
  }

  /**
   * Ends an upload that will not complete: its multipart upload is aborted, its staged bytes (or a
   * partial upload's object) deleted, and an object it assembled but never recorded is deleted
   * (unless a record points to it after all). What cannot be removed now is left to the sweep, which
   * this upload no longer holds back. A final upload's partial uploads are released for another try.
   */
  private async discard(state: State, status: 'terminated' | 'expired' | 'failed', failure?: AppError): Promise<void> {
    const client = this.client(state);
    const leftOver = (error: Error) => this.leftOver(state, error);
    if (state.s3UploadId && state.key) await client.abortMultipartUpload(state.key, state.s3UploadId).catch(leftOver);
    await client.deletePrefix(this.prefix()).catch(leftOver);
    if (state.assembled && state.key && state.concat !== 'partial') {
      const row = await this.deps().repo.get(state.fileId);
      if (row?.filenameDisk !== state.key) await client.deleteObject(state.key).catch(leftOver);
    }
    if (state.partials && state.status === 'active') await releasePartials(this.partial, this.claimant(state), state.partials, false);
    if (failure) state.failure = { code: failure.code, message: failure.message };
    await this.end(state, status, Date.now() + state.expirationMs);
  }

  /** An upload's last state: its parts and staged rows dropped, a tombstone kept until `forgetAt`. */
  private async end(state: State, status: Exclude<UploadStatus, 'active'>, forgetAt: number): Promise<void> {
    state.status = status;
    state.s3UploadId = undefined;
    state.forgetAt = forgetAt;
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec('DELETE FROM staged');
      this.ctx.storage.sql.exec('DELETE FROM head');
      this.ctx.storage.sql.exec('DELETE FROM parts');
      this.save(state);
    });
    await this.ctx.storage.setAlarm(forgetAt);
    // A lease that cannot be dropped now simply runs out.
    if (state.leaseUntil !== undefined) await this.deps().live.forget(this.ctx.id.toString()).catch(() => {});
  }

  private leftOver(state: State, error: Error): void {
    log('warn', 'upload storage left for the sweep', { upload: this.ctx.id.toString(), key: state.key, reason: error.message });
  }

  /** This upload's folder in the bucket: staged bytes, and a partial upload's object. */
  private prefix(): string {
    return `${UPLOADS_PREFIX}${this.ctx.id.toString()}/`;
  }

  /** The committed state for `owner`: 404 for an unknown upload or another token's, 410 once ended. */
  private current(owner: string): State {
    const state = this.load();
    if (!state || state.owner !== owner) throw tusError(404, 'Upload not found.');
    if (state.status === 'failed') throw new AppError(state.failure?.code ?? 'INTERNAL', `This final upload failed: ${state.failure?.message ?? 'its assembly did not finish'}`);
    if (state.status === 'terminated' || state.status === 'expired') throw tusError(410, `This upload was ${state.status}.`);
    if (state.status === 'active' && Date.now() >= state.expiresAt) throw tusError(410, 'This upload expired.');
    return state;
  }

  private info(state: State, completedNow = false): UploadInfo {
    return {
      offset: state.concat === 'final' && state.status !== 'completed' ? undefined : state.offset,
      length: state.length,
      metadataHeader: state.metadataHeader,
      expiresAt: state.expiresAt,
      fileId: state.status === 'completed' && state.concat !== 'partial' ? state.fileId : undefined,
      replaced: completedNow && state.replaces,
      ...(state.concatHeader ? { concat: state.concatHeader } : {}),
    };
  }

  private load(): State | undefined {
    const row = this.ctx.storage.sql.exec<{ state: string }>('SELECT state FROM upload WHERE id = 1').toArray()[0];
    return row ? (JSON.parse(row.state) as State) : undefined;
  }

  private save(state: State): void {
    this.ctx.storage.sql.exec('INSERT OR REPLACE INTO upload (id, state) VALUES (1, ?)', JSON.stringify(state));
  }

  private rows(): Uint8Array[] {
    return this.ctx.storage.sql
      .exec<{ data: ArrayBuffer }>('SELECT data FROM head ORDER BY seq')
      .toArray()
      .map((r) => new Uint8Array(r.data));
  }

  private segments(): Segment[] {
    return this.ctx.storage.sql.exec<{ start: number; key: string; size: number }>('SELECT start, key, size FROM staged ORDER BY start').toArray().map((r) => ({ ...r }));
  }

  private partCount(): number {
    return this.ctx.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM parts').one().n;
  }

  private partList(): UploadedPart[] {
    return this.ctx.storage.sql
      .exec<{ number: number; etag: string; size: number }>('SELECT number, etag, size FROM parts ORDER BY number')
      .toArray()
      .map((p) => ({ partNumber: p.number, etag: p.etag, size: p.size }));
  }

  private client(state: State): S3Client {
    return storageFor(getConfig(this.env), state.storage);
  }

  private deps(): FilesDeps {
    return { config: getConfig(this.env), repo: new FilesRepository(this.env.DB), live: new LiveUploadsRepository(this.env.DB) };
  }

  private failure(error: unknown): Outcome<never> {
    if (error instanceof AppError) return refusal(error);
    log('error', 'upload session: unexpected error', { upload: this.ctx.id.toString(), error: String(error) });
    return refusal(new AppError('INTERNAL', 'The upload failed unexpectedly; HEAD tells how much was stored.'));
  }
}

/** Bodies up to the smallest plans' request cap are read to their end before a refusal is answered. */
const DRAIN_LIMIT = 100 * 1000 * 1000;

/**
 * Disposes of the body of a PATCH that is refused unread (423, 409…). Answering while the client is
 * still sending resets its connection (and `wrangler dev` turns the reset into a 500), so a body the
 * platform would accept anyway is read to its end first; a larger or unsized one is cancelled.
 */
async function refuseBody(body: ReadableStream<Uint8Array> | null, contentLength: number | undefined): Promise<void> {
  if (!body) return;
  if (contentLength === undefined || contentLength > DRAIN_LIMIT) return void (await body.cancel().catch(() => {}));
  await body.pipeTo(new WritableStream()).catch(() => {});
}
