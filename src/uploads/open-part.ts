import type { UploadedPart } from '../storage/s3-client';

/** How long a failed write waits for the request's own error. */
const ANSWER_WAIT_MS = 1000;

/**
 * One part whose body is fed by consecutive PATCHes: a single UploadPart (or the PutObject of an
 * upload of one part) of fixed length, kept open in the Durable Object while its PATCHes come.
 * Nothing is held: the request's body is pulled by storage, and each pull reads the next chunk of
 * the PATCH feeding it (between PATCHes it waits), so memory is one chunk whatever the part size.
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
  private readonly answer: Promise<UploadedPart | undefined>;
  /** The piece storage is reading now, and how its feed() ends. */
  private current: { reader: ReadableStreamDefaultReader<Uint8Array>; done: () => void; fail: (error: unknown) => void } | undefined;
  /** The body's pull, waiting between PATCHes for the next piece (or the end). */
  private wake: (() => void) | undefined;
  private full = false;

  /**
   * `send` starts the request with the part's body; it answers the part (or nothing, for a
   * PutObject).
   */
  constructor(
    /** The upload offset where the part starts (a committed offset). */
    readonly start: number,
    readonly length: number,
    send: (body: ReadableStream<Uint8Array>) => Promise<UploadedPart | undefined>,
  ) {
    // Pulled by storage, as a whole part's body is: each read of a piece waits for storage to ask.
    const body = new ReadableStream<Uint8Array>({ pull: (c) => this.pull(c), cancel: (reason) => this.lose(reason) }, { highWaterMark: 0 });
    this.answer = send(body);
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

  /** Hands `size` bytes to the part — a buffer, or a stream of exactly that many — and resolves once storage has read them. */
  async feed(piece: Uint8Array | ReadableStream<Uint8Array>, size: number): Promise<void> {
    const stream = piece instanceof ReadableStream ? piece : new ReadableStream<Uint8Array>({ start: (c) => (c.enqueue(piece), c.close()) });
    try {
      if (this.failed !== undefined) throw this.failed;
      await new Promise<void>((done, fail) => {
        this.current = { reader: stream.getReader(), done, fail };
        this.wakeUp();
      });
    } catch (error) {
      throw await this.cause(error);
    }
    this.fed += size;
  }

  /** The part is full: its body ends and storage's answer is awaited. */
  async close(): Promise<UploadedPart | undefined> {
    this.full = true;
    this.wakeUp();
    return this.answer;
  }

  /** Gives the part up (a restarted part, a refused checksum, the end of the upload): its request ends. */
  abort(reason: unknown): void {
    this.lose(reason);
  }

  private async pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    // Returns only once it has enqueued, closed or errored: a pull that returns empty is not called again.
    for (;;) {
      if (this.failed !== undefined) return controller.error(this.failed);
      const feed = this.current;
      if (!feed) {
        if (this.full) return controller.close();
        await new Promise<void>((r) => (this.wake = r));
        continue;
      }
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await feed.reader.read();
      } catch (error) {
        // A failed piece (a cut body) fails the part: the request to storage ends too.
        this.lose(error);
        continue;
      }
      if (next.done) {
        this.current = undefined;
        feed.done();
        continue;
      }
      return controller.enqueue(next.value);
    }
  }

  /** The part is lost: the piece being read fails, and so does the body's next pull. */
  private lose(reason: unknown): void {
    this.failed ??= reason;
    const feed = this.current;
    this.current = undefined;
    feed?.reader.cancel(reason).catch(() => {});
    feed?.fail(reason);
    this.wakeUp();
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /**
   * Why a write failed: where the request to storage failed, its own error (a storage error with
   * its status and code) rather than the stream's, which says only that the body was cancelled.
   */
  private async cause(error: unknown): Promise<unknown> {
    const settled = new Promise<unknown>((resolve) => setTimeout(resolve, ANSWER_WAIT_MS, undefined));
    return (await Promise.race([this.answer.then(() => undefined, (e: unknown) => e), settled])) ?? error;
  }
}
