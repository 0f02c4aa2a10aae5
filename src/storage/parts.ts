import { concat } from '../lib/bytes';

/** S3 allows at most this many parts in one multipart upload. */
export const MAX_PARTS = 10_000;

/**
 * The part size P for an upload: the location's chunk size, raised when needed so that `length`
 * bytes fit in 10,000 parts. Unknown length: the chunk size (so at most 10,000 × P bytes).
 */
export function partSizeFor(chunkSize: number, length?: number): number {
  if (length === undefined) return chunkSize;
  return Math.max(chunkSize, Math.ceil(length / MAX_PARTS));
}

/**
 * Collects chunks of any size and hands out parts of exactly `size` bytes: every part but the last
 * is full, which is what R2 requires of a multipart upload. Holds less than one part between calls.
 */
export class PartCutter {
  private chunks: Uint8Array[] = [];
  private held = 0;

  constructor(readonly size: number) {}

  /** Bytes held that do not yet make a full part. */
  get pending(): number {
    return this.held;
  }

  /** Adds a chunk and returns the full parts it completes (often none). */
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let rest = chunk;
    while (this.held + rest.byteLength >= this.size) {
      const take = this.size - this.held;
      this.chunks.push(rest.subarray(0, take));
      rest = rest.subarray(take);
      out.push(this.drain());
    }
    if (rest.byteLength > 0) {
      this.chunks.push(rest);
      this.held += rest.byteLength;
    }
    return out;
  }

  /** The bytes held (the last, short part), leaving the cutter empty. */
  drain(): Uint8Array {
    const part = concat(this.chunks);
    this.chunks = [];
    this.held = 0;
    return part;
  }
}

/**
 * The parts of a stream: each exactly `size` bytes but the last, which may be shorter. An empty
 * stream yields one empty part. Cancelling the iteration cancels the stream.
 */
export async function* cutParts(stream: ReadableStream<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  const cutter = new PartCutter(size);
  const reader = stream.getReader();
  let yielded = false;
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const part of cutter.push(value)) {
        yielded = true;
        yield part;
      }
    }
    finished = true;
    if (cutter.pending > 0 || !yielded) yield cutter.drain();
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
