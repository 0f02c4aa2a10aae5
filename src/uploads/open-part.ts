import type { UploadedPart } from '../storage/s3-client';
import { causeOf, type Sink, WrittenBody } from '../storage/written-body';

/**
 * One part whose body is fed by consecutive PATCHes: a single UploadPart (or the PutObject of an
 * upload of one part) of fixed length, kept open in the Durable Object while its PATCHes come.
 * Nothing is held: each PATCH writes its bytes into the request's body as storage takes them
 * (between PATCHes the body waits), so memory is a few chunks whatever the part size.
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
  private readonly body: WrittenBody;
  private readonly answer: Promise<UploadedPart | undefined>;

  /** `send` starts the request with the part's body; it answers the part (or nothing, for a PutObject). */
  constructor(
    /** The upload offset where the part starts (a committed offset). */
    readonly start: number,
    readonly length: number,
    send: (body: WrittenBody) => Promise<UploadedPart | undefined>,
  ) {
    this.body = new WrittenBody(length);
    this.answer = send(this.body);
    // Remembered at once: the request may fail while no PATCH is running (a pause past the timeout).
    this.answer.catch((error: unknown) => this.lose(error ?? new Error('the part was lost')));
  }

  get left(): number {
    return this.length - this.fed;
  }

  /** The offset a client resumes from while the part is alive. */
  get end(): number {
    return this.start + this.fed;
  }

  /**
   * Writes `size` bytes into the part — a buffer, or a piece that writes itself (a request body's
   * next bytes) — and resolves once storage has read them. A piece that fails (a cut body) fails the
   * part: the request to storage ends too.
   */
  async feed(piece: Uint8Array | ((sink: Sink) => Promise<void>), size: number): Promise<void> {
    try {
      if (this.failed !== undefined) throw this.failed;
      await (piece instanceof Uint8Array ? this.body.write(piece) : piece(this.body));
    } catch (error) {
      this.lose(error);
      throw await causeOf(this.answer, error);
    }
    this.fed += size;
  }

  /** The part is full: its body ends and storage's answer is awaited. */
  async close(): Promise<UploadedPart | undefined> {
    try {
      await this.body.close();
    } catch (error) {
      throw await causeOf(this.answer, error);
    }
    return this.answer;
  }

  /** Gives the part up (a restarted part, a refused checksum, the end of the upload): its request ends. */
  abort(reason: unknown): void {
    this.lose(reason);
  }

  private lose(reason: unknown): void {
    this.failed ??= reason;
    this.body.abort(reason);
  }
}
