/** How long a failed write waits for the request's own error. */
const ANSWER_WAIT_MS = 1000;

/** Where bytes are written: resolves once the reader has taken them, so the chunk's buffer may be reused. */
export interface Sink {
  write(chunk: Uint8Array): Promise<void>;
}

/**
 * A request body of a fixed length that the caller writes while storage reads it (a TUS part):
 * the bytes go from the caller's buffers to the socket natively (a FixedLengthStream), and each
 * write resolves once the request has taken its bytes, so the caller reads the next bytes into the
 * same buffers. A body piped through JavaScript streams needs a fresh buffer for every chunk, and
 * that garbage piled up to V8's external-memory threshold (~64 MiB) before each collection: the
 * peak RSS of a large TUS upload, measured.
 */
export class WrittenBody implements Sink {
  readonly readable: ReadableStream<Uint8Array>;
  /** Called as bytes go out (the request's watchdog re-arms on it). */
  onProgress: () => void = () => {};
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;

  constructor(readonly length: number) {
    const { readable, writable } = new FixedLengthStream(length);
    this.readable = readable as ReadableStream<Uint8Array>;
    this.writer = writable.getWriter() as WritableStreamDefaultWriter<Uint8Array>;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.onProgress();
    await this.writer.write(chunk);
    this.onProgress();
  }

  /** Every byte is written: the request's body ends. */
  close(): Promise<void> {
    return this.writer.close();
  }

  /** The body fails, and so does the request reading it. */
  abort(reason: unknown): void {
    this.writer.abort(reason).catch(() => {});
  }
}

/**
 * Why writing a body failed: where the request reading it failed, that request's own error (a
 * storage error with its status and code) rather than the stream's, which says only that the body
 * was cancelled.
 */
export async function causeOf(answer: Promise<unknown>, error: unknown): Promise<unknown> {
  const waited = new Promise<unknown>((resolve) => setTimeout(resolve, ANSWER_WAIT_MS, undefined));
  return (await Promise.race([answer.then(() => undefined, (e: unknown) => e), waited])) ?? error;
}
