import { concat } from '../lib/bytes';
import type { Sink } from '../storage/written-body';

/**
 * The byte path of a TUS upload: a request body cut into pieces of exact lengths that stream to
 * storage while the body is still arriving. Chunks are handed on as they come (no copies but one
 * small one where a piece ends inside a chunk), so memory stays flat whatever the part size.
 */

/**
 * Nothing is read before the consumer asks: a part's sources are opened in turn, and a piece reads
 * the body only as storage takes it (a read-ahead of 1 MiB was measured no faster).
 */
const NOTHING_AHEAD = { highWaterMark: 0 };

/**
 * A request body arrives in chunks of a few KiB; each chunk costs a trip through JavaScript on its
 * way to storage, so it is read natively in pieces of at least READ_AT_LEAST (workerd's readAtLeast).
 */
const READ_AT_LEAST = 256 * 1024;
const READ_SIZE = 256 * 1024;
/**
 * Buffers a piece written into a sink is read into, each reused once the sink has taken its bytes:
 * one being read while the others are written, so the client's bytes keep coming while storage
 * takes the earlier ones.
 */
const RING = 3;

/** The client's body ended or failed before a piece was complete (a cut connection). */
export class BodyCut extends Error {}

export class BodySlicer {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array> | ReadableStreamBYOBReader;
  /** Read from the body, not yet handed out (a peeked head, or the rest of a chunk a piece ended in). */
  private pending: Uint8Array[] = [];
  private ended = false;
  /** The client's body failed while it was read. */
  dropped = false;
  /** Bytes handed out so far. */
  consumed = 0;

  /** `onBytes` sees every byte handed out, once and in order (hashes, the head); a chunk is handed out once it resolves. */
  constructor(
    body: ReadableStream<Uint8Array>,
    private readonly onBytes: (chunk: Uint8Array, at: number) => Promise<void>,
  ) {
    try {
      this.reader = body.getReader({ mode: 'byob' });
    } catch {
      this.reader = body.getReader();
    }
  }

  /** The next `n` bytes as a stream of exactly `n` bytes; it errors with BodyCut if the body ends first. */
  take(n: number): ReadableStream<Uint8Array> {
    let left = n;
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (left === 0) return controller.close();
        const chunk = await this.next(left);
        if (chunk === undefined) return controller.error(new BodyCut(`the request body ended ${left} bytes short`));
        left -= chunk.byteLength;
        controller.enqueue(chunk);
        if (left === 0) controller.close();
      },
    }, NOTHING_AHEAD);
  }

  /**
   * Writes the next `n` bytes into `sink`, read into a few buffers that are reused (see WrittenBody):
   * it resolves once the sink has taken them all, and errors with BodyCut if the body ends first.
   */
  async writeInto(sink: Sink, n: number): Promise<void> {
    const writing: { chunk: Uint8Array; taken: Promise<void> }[] = [];
    let left = n;
    try {
      while (left > 0) {
        let into: ArrayBuffer | undefined;
        if (writing.length >= RING) {
          const oldest = writing.shift() as (typeof writing)[number];
          await oldest.taken;
          // A buffer of the ring (a peeked head or the rest of a chunk is a buffer of its own).
          if (oldest.chunk.buffer.byteLength === READ_SIZE) into = oldest.chunk.buffer as ArrayBuffer;
        }
        const chunk = await this.next(left, into);
        if (chunk === undefined) throw new BodyCut(`the request body ended ${left} bytes short`);
        left -= chunk.byteLength;
        const taken = sink.write(chunk);
        taken.catch(() => {});
        writing.push({ chunk, taken });
      }
    } finally {
      // Nothing is left writing from a buffer once this returns (or throws).
      await Promise.allSettled(writing.map((w) => w.taken));
    }
    for (const w of writing) await w.taken;
  }

  /** Up to `n` bytes in one buffer (fewer only where the body ends): for bodies of unknown length. */
  async takeBuffered(n: number): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    let size = 0;
    while (size < n) {
      const chunk = await this.next(n - size);
      if (chunk === undefined) break;
      chunks.push(chunk);
      size += chunk.byteLength;
    }
    return concat(chunks);
  }

  /** Up to `n` of the next bytes without handing them out (the type is sniffed before anything is stored). */
  async peek(n: number): Promise<Uint8Array> {
    let have = this.pending.reduce((s, c) => s + c.byteLength, 0);
    while (have < n && !this.ended) {
      const chunk = await this.read();
      if (chunk === undefined) break;
      this.pending.push(chunk);
      have += chunk.byteLength;
    }
    return concat(this.pending).subarray(0, n);
  }

  /** Whether the body has no more bytes. */
  async atEnd(): Promise<boolean> {
    return (await this.peek(1)).byteLength === 0;
  }

  async cancel(): Promise<void> {
    await this.reader.cancel().catch(() => {});
  }

  /** The next chunk handed out, at most `max` bytes (the rest waits for the next piece). */
  private async next(max = Number.POSITIVE_INFINITY, into?: ArrayBuffer): Promise<Uint8Array | undefined> {
    let chunk = this.pending.shift() ?? (await this.read(into));
    if (chunk === undefined) return undefined;
    if (chunk.byteLength > max) {
      // A copy of the rest: the piece's consumer may take ownership of the chunk's buffer.
      this.pending.unshift(chunk.slice(max));
      chunk = chunk.subarray(0, max);
    }
    const at = this.consumed;
    this.consumed += chunk.byteLength;
    await this.onBytes(chunk, at);
    return chunk;
  }

  /** The next chunk of the body, read into `into` where given (a buffer of READ_SIZE). */
  private async read(into?: ArrayBuffer): Promise<Uint8Array | undefined> {
    if (this.ended) return undefined;
    try {
      const { done, value } =
        this.reader instanceof ReadableStreamBYOBReader ? await this.reader.readAtLeast(READ_AT_LEAST, new Uint8Array(into ?? new ArrayBuffer(READ_SIZE))) : await this.reader.read();
      if (done || !value) this.ended = true;
      if (value && value.byteLength > 0) return value;
      return undefined;
    } catch {
      this.dropped = true;
      this.ended = true;
      return undefined;
    }
  }
}

/**
 * The sources one after the other, as one stream; each is opened only when the previous one ends,
 * so a part made of staged objects and a request body holds one source's chunk at a time.
 */
export function joinStreams(sources: (() => Promise<ReadableStream<Uint8Array>>)[]): ReadableStream<Uint8Array> {
  let index = 0;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      for (;;) {
        if (!reader) {
          const open = sources[index++];
          if (!open) return controller.close();
          reader = (await open()).getReader();
        }
        const { done, value } = await reader.read();
        if (!done) return controller.enqueue(value);
        reader = undefined;
      }
    },
    cancel: async (reason) => {
      await reader?.cancel(reason);
    },
  }, NOTHING_AHEAD);
}
