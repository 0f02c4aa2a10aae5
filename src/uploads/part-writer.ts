import { HEAD_BYTES } from '../files/inspect';
import { concat } from '../lib/bytes';
import { MAX_PARTS } from '../storage/parts';
import type { S3Client, UploadedPart } from '../storage/s3-client';
import type { Sink, WrittenBody } from '../storage/written-body';
import { BodySlicer } from './byte-path';
import { RequestDigest, RunningHash } from './checksum';
import type { Holdings } from './holdings';
import { OpenPart } from './open-part';
import { type AppendInput, type Progress, type State, total } from './session-store';
import { segmentsThen, Staging } from './staging';
import { tusError } from './tus-protocol';

/** A body without Content-Length is read in pieces of at most this: the one path that buffers. */
const UNSIZED_PIECE = 8 * 1024 * 1024;

/**
 * The byte path of one upload: PATCH bodies into parts of the S3 multipart upload.
 *
 * Every part but the last is exactly P bytes whatever the clients' PATCH sizes (R2 requires equal
 * parts). A part's bytes stream from the request bodies into storage as they arrive, never held:
 * - a PATCH that carries what the current part still needs sends exactly that many bytes as one
 *   UploadPart (fixed length) behind any staged bytes of the part;
 * - a PATCH that ends inside a part of known length opens it (see OpenPart): the next PATCHes feed
 *   the same UploadPart until it is full. Its bytes count in Upload-Offset while it is open, but
 *   are durable only once storage has the whole part: a cut, an eviction or a pause past the
 *   location's SOCKET_TIMEOUT costs the open part, and the offset is its start again;
 * - what cannot open a part (a deferred length, a body without Content-Length, a PATCH with
 *   Upload-Checksum starting a part) is staged (staging.ts) and read back into its part.
 *
 * Each part sent and each segment staged is committed at once (offset, running SHA-256 state, the
 * head): a PATCH cut in the middle keeps everything before the piece it was sending. A PATCH with
 * Upload-Checksum is all or nothing: committed only when its digest matches (460 otherwise, and an
 * open part it fed is given up); what it sent meanwhile is simply sent again (part numbers follow
 * from offsets).
 */
export class PartWriter {
  private readonly staging: Staging;
  /** The part PATCHes are feeding, while its request to storage lives (in memory only). */
  private open: OpenPart | undefined;
  /** The upload's SHA-256 so far, for its record (in memory only). */
  readonly hash = new RunningHash();

  constructor(private readonly holdings: Holdings) {
    this.staging = new Staging(holdings);
  }

  private get store() {
    return this.holdings.store;
  }

  /** The offset a PATCH continues from: past an open part's bytes while it lives, else the committed one. */
  offset(state: State): number {
    if (this.open?.failed !== undefined) this.open = undefined;
    return this.open?.end ?? state.offset;
  }

  /**
   * Gives up the open part, if any: the client resends it from its start (a PATCH at the committed
   * offset), or the upload ends.
   */
  dropOpenPart(reason: string): void {
    this.open?.abort(new Error(reason));
    this.open = undefined;
  }

  async receive(state: State, input: AppendInput, body: ReadableStream<Uint8Array>): Promise<void> {
    await this.staging.adoptLegacyTail(state);
    const start = this.offset(state);
    // The open part's request may have ended since the offset was checked: its bytes are gone.
    if (start !== input.offset) throw tusError(409, `Upload-Offset ${input.offset} does not match the server's offset ${start}.`);
    const carried = this.open;
    const hasher = this.hash.at(state, start);
    const digest = input.checksum ? new RequestDigest(input.checksum.algorithm) : undefined;
    const w: Progress = { offset: state.offset, newParts: [], staged: this.store.segments(), head: carried?.head ?? [], assembled: false };
    if (carried) carried.head = [];
    let partsSent = this.store.partCount();
    const slicer = new BodySlicer(body, async (chunk, at) => {
      if (start + at < HEAD_BYTES && state.concat !== 'partial') w.head.push(chunk.slice(0, HEAD_BYTES - start - at));
      await Promise.all([hasher?.update(chunk), digest?.update(chunk)]);
    });
    const single = state.length !== undefined && state.length <= state.partSize;
    /** Starts the request for part `partsSent + 1` (or the single PutObject) with `body`, once the type is known. */
    const send = async (partLength: number): Promise<(body: ReadableStream<Uint8Array> | Uint8Array | WrittenBody) => Promise<UploadedPart | undefined>> => {
      if (!state.key) await this.holdings.ensureKnown(state, await this.headOf(w, slicer));
      const client = this.holdings.client(state);
      if (single) {
        await this.holdings.leaseFirstWrite(state);
        return async (b) => void (await client.putObject(state.key as string, b, { contentType: state.type as string, contentLength: partLength }));
      }
      if (partsSent >= MAX_PARTS) {
        throw tusError(413, `This upload needs more than ${MAX_PARTS} parts of ${state.partSize} bytes; create it with its Upload-Length, or raise TUS__CHUNK_SIZE.`);
      }
      const uploadId = await this.holdings.multipartUpload(state);
      const number = partsSent + 1;
      return (b) => client.uploadPart(state.key as string, uploadId, number, b, partLength);
    };
    /** A part has landed: it counts from now on (committed with the next commit). */
    const landed = (part: UploadedPart | undefined, size: number) => {
      if (part) {
        w.newParts.push(part);
        partsSent++;
      } else w.assembled = true;
      w.offset += size;
      w.staged = [];
    };
    // With Upload-Checksum the request is all or nothing; otherwise each piece is kept as it lands.
    const atomic = input.checksum !== undefined;
    const limit = state.length ?? state.maxSize;
    try {
      for (;;) {
        const remaining = input.contentLength === undefined ? undefined : input.contentLength - slicer.consumed;
        if (remaining === 0 || (remaining === undefined && (await slicer.atEnd()))) break;
        const at = this.open?.end ?? w.offset;
        if (limit !== undefined && at >= limit) {
          throw tusError(413, `The upload would pass its ${state.length !== undefined ? 'length' : 'maximum size'} of ${limit} bytes; the bytes up to it were kept.`);
        }
        if (this.open) {
          const part = this.open;
          const n = Math.min(part.left, remaining ?? UNSIZED_PIECE);
          const piece = remaining === undefined ? await slicer.takeBuffered(n) : (sink: Sink) => slicer.writeInto(sink, n);
          await part.feed(piece, piece instanceof Uint8Array ? piece.byteLength : n);
          if (part.left > 0) continue;
          this.open = undefined;
          landed(await part.close(), part.length);
        } else {
          const stagedBytes = total(w.staged);
          const partLength = state.length === undefined ? state.partSize : Math.min(state.partSize, state.length - (w.offset - stagedBytes));
          const need = partLength - stagedBytes;
          if (remaining === undefined) {
            const bytes = await slicer.takeBuffered(Math.min(need, UNSIZED_PIECE, (limit ?? Number.POSITIVE_INFINITY) - w.offset));
            if (bytes.byteLength === need) landed(await (await send(partLength))(partBody(this.holdings.client(state), w, bytes)), need);
            else await this.staging.stage(state, w, bytes, bytes.byteLength);
          } else if (remaining >= need) {
            const sender = await send(partLength);
            // Without staged bytes, the part is written into its request as an open part filled at once.
            const part = w.staged.length === 0 ? new OpenPart(w.offset, need, sender) : undefined;
            if (part) await part.feed((sink: Sink) => slicer.writeInto(sink, need), need);
            landed(await (part ? part.close() : sender(partBody(this.holdings.client(state), w, slicer.take(need)))), need);
          } else if (state.length !== undefined && w.staged.length === 0 && !atomic) {
            this.open = new OpenPart(w.offset, partLength, await send(partLength));
            continue;
          } else {
            await this.staging.stage(state, w, slicer.take(remaining), remaining);
          }
        }
        if (!atomic) await this.commit(state, w);
      }
    } catch (error) {
      await slicer.cancel();
      this.dropOpenPart('the PATCH feeding it failed');
      // The client went away mid-piece: what was committed stands, and there is no one to answer.
      if (slicer.dropped) return void (await this.holdings.touch(state));
      throw error;
    }
    if (slicer.dropped) {
      this.dropOpenPart('the client went away');
      return void (await this.holdings.touch(state));
    }
    if (input.checksum && digest) {
      if (!(await digest.matches(input.checksum.digest))) {
        this.dropOpenPart('its last PATCH failed its checksum');
        await this.staging.drop(state, w.staged, this.store.segments());
        throw tusError(460, `The ${input.checksum.algorithm} checksum of this request's body does not match Upload-Checksum; its bytes were discarded.`);
      }
      await this.commit(state, w);
    }
    // The open part's first bytes of the upload wait with it for its answer.
    if (this.open) this.open.head = w.head;
    await this.holdings.touch(state);
  }

  /** The object from the parts sent and the staged bytes (a deferred length, or bytes that came in pieces). */
  async assemble(state: State, client: S3Client): Promise<void> {
    const staged = this.store.segments();
    if (!state.s3UploadId) {
      if (!state.key) await this.holdings.ensureKnown(state, concat(this.store.headRows()));
      await this.holdings.leaseFirstWrite(state);
      await client.putObject(state.key as string, staged.length > 0 ? segmentsThen(client, staged) : new Uint8Array(0), { contentType: state.type as string, contentLength: total(staged) });
      return;
    }
    const parts = this.store.parts();
    if (staged.length > 0) {
      const size = total(staged);
      const last = await client.uploadPart(state.key as string, state.s3UploadId, parts.length + 1, segmentsThen(client, staged), size);
      // Sent: the part is recorded and its segments are no longer staged, so a resumed completion does not send it again.
      this.store.sentStaged({ ...last, size });
      parts.push({ ...last, size });
    }
    await client.completeMultipartUpload(state.key as string, state.s3UploadId, parts, { size: state.offset, startedAt: state.s3StartedAt ?? 0 });
  }

  adoptLegacyTail(state: State): Promise<void> {
    return this.staging.adoptLegacyTail(state);
  }

  /**
   * Makes a PATCH's progress durable in one transaction; segments sent in parts are deleted after,
   * before the next piece (s3rver loses a write racing a delete in the same folder).
   */
  private async commit(state: State, w: Progress): Promise<void> {
    const before = this.store.segments();
    state.offset = w.offset;
    if (w.assembled) state.assembled = true;
    state.expiresAt = Date.now() + state.expirationMs;
    this.store.commit(state, w);
    w.newParts = [];
    w.head = [];
    await this.staging.drop(state, before, w.staged);
  }

  /** The first bytes of the upload (up to HEAD_BYTES): stored ones, this request's, then a peek at the body. */
  private async headOf(w: Progress, slicer: BodySlicer): Promise<Uint8Array> {
    const known = concat([...this.store.headRows(), ...w.head]);
    return known.byteLength >= HEAD_BYTES ? known : concat([known, await slicer.peek(HEAD_BYTES - known.byteLength)]);
  }
}

/** A part's body: its staged segments read back, then the request's bytes. */
function partBody(client: S3Client, w: Progress, tail: Uint8Array | ReadableStream<Uint8Array>): Uint8Array | ReadableStream<Uint8Array> {
  return w.staged.length === 0 ? tail : segmentsThen(client, w.staged, tail);
}
