import type { ResumableSha256 } from '../lib/resumable-sha256';
import type { UploadedPart } from '../storage/s3-client';

/** How long a failed write waits for the request's own error. */
const ANSWER_WAIT_MS = 1000;

/**
 * One part whose body is fed by consecutive PATCHes: a single UploadPart (or the PutObject of an
 * upload of one part) of fixed length, kept open in the Durable Object while its PATCHes come.
 * Nothing is held: each PATCH's bytes flow through a native stream into the open request as storage
 * takes them (a write waits for the read), so memory is one chunk whatever the part size.
 *
 * None of its bytes are durable until storage answers for the whole part: the committed offset
 * stays at the part's start, and `fed` bytes beyond it are promised only while the request lives.
 * A cut, an eviction, a storage error or a pause longer than the location's SOCKET_TIMEOUT ends the
 * request; the part is lost and the upload's offset is its start again.
 */
export class OpenPart {
  /** Bytes written into the part so far. */
  fed = 0;
  /** The upload's first bytes among those fed (kept for the record once the part lands). */
  head: Uint8Array[] = [];
  /** Why the request failed, once it has (the part is then lost). */
  failed: unknown;
  private readonly writable: WritableStream<Uint8Array>;
  private readonly answer: Promise<UploadedPart | undefined>;

  /**
   * `send` starts the request with the part's body; it answers the part (or nothing, for a
   * PutObject). `hasher` is the upload's running SHA-256, carried from PATCH to PATCH.
   */
  constructor(
    /** The upload offset where the part starts (a committed offset). */
    readonly start: number,
    readonly length: number,
    readonly hasher: ResumableSha256 | undefined,
    send: (body: ReadableStream<Uint8Array>) => Promise<UploadedPart | undefined>,
  ) {
    const { readable, writable } = new IdentityTransformStream();
    this.writable = writable as WritableStream<Uint8Array>;
    this.answer = send(readable as ReadableStream<Uint8Array>);
    // Remembered at once: the request may fail while no PATCH is running (a pause past the timeout).
    this.answer.catch((error: unknown) => {
      this.failed = error ?? new Error('the part was lost');
    });
  }

  get left(): number {
    return this.length - this.fed;
  }

  /** The offset a client resumes from while the part is alive. */
  get end(): number {
    return this.start + this.fed;
  }

  /** Writes `size` bytes into the part: a buffer, or a stream of exactly that many (a request body's piece). */
  async feed(piece: Uint8Array | ReadableStream<Uint8Array>, size: number): Promise<void> {
    try {
      // A failed piece (a cut body) aborts the part through the pipe: the request to storage ends too.
      if (piece instanceof ReadableStream) await piece.pipeTo(this.writable, { preventClose: true });
      else await this.withWriter((w) => w.write(piece));
    } catch (error) {
      throw await this.cause(error);
    }
    this.fed += size;
  }

  /**
   * Why a write failed: where the request to storage failed, its own error (a storage error with
   * its status and code) rather than the stream's, which says only that the body was cancelled.
   */
  private async cause(error: unknown): Promise<unknown> {
    const settled = new Promise<unknown>((resolve) => setTimeout(resolve, ANSWER_WAIT_MS, undefined));
    return (await Promise.race([this.answer.then(() => undefined, (e: unknown) => e), settled])) ?? error;
  }

  /** The part is full: its body ends and storage's answer is awaited. */
  async close(): Promise<UploadedPart | undefined> {
    await this.withWriter((w) => w.close());
    return this.answer;
  }

  /** Gives the part up (a restarted part, a refused checksum, the end of the upload): its request is aborted. */
  abort(reason: unknown): void {
    this.failed ??= reason;
    if (!this.writable.locked) this.writable.abort(reason).catch(() => {});
  }

  private async withWriter(fn: (w: WritableStreamDefaultWriter<Uint8Array>) => Promise<void>): Promise<void> {
    const writer = this.writable.getWriter();
    try {
      await fn(writer);
    } finally {
      writer.releaseLock();
    }
  }
}
