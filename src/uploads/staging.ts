import { concat } from '../lib/bytes';
import type { S3Client } from '../storage/s3-client';
import { readRange } from './assembler';
import { joinStreams } from './byte-path';
import type { Holdings } from './holdings';
import type { Progress, Segment, State } from './session-store';

/**
 * Staging: bytes whose part cannot be opened yet — a deferred length's part (its length unknown), a
 * body without Content-Length, a PATCH with Upload-Checksum (all or nothing) — are stored as objects
 * of their own under `uploads/<id>/staged-<offset>`, and read back into the part they belong to.
 * Each byte staged is written twice and read once: the slow path, kept for what cannot stream.
 */
export class Staging {
  constructor(private readonly holdings: Holdings) {}

  /** Stages bytes that do not fill a part: an object of their own, read back into their part later. */
  async stage(state: State, w: Progress, bytes: Uint8Array | ReadableStream<Uint8Array>, size: number): Promise<void> {
    if (size === 0) return;
    const key = `${this.holdings.prefix()}staged-${w.offset}`;
    await this.holdings.leaseFirstWrite(state);
    await this.holdings.client(state).putObject(key, bytes, { contentLength: size });
    w.staged.push({ start: w.offset, key, size });
    w.offset += size;
  }

  /** Deletes segments of `before` no longer staged (sent in a part, or of a refused request). */
  async drop(state: State, before: Segment[], now: Segment[]): Promise<void> {
    const gone = before.filter((s) => !now.some((t) => t.key === s.key)).map((s) => s.key);
    if (gone.length > 0) await this.holdings.client(state).deleteObjects(gone).catch((error: Error) => this.holdings.leftOver(state, error));
  }

  /**
   * Uploads begun before parts streamed kept the bytes short of a part in a `tail` table: they are
   * staged like any now, so such an upload goes on (its checksum is then read from storage once).
   */
  async adoptLegacyTail(state: State): Promise<void> {
    const rows = this.holdings.store.legacyTail();
    if (!rows) return;
    const tail = concat(rows);
    const start = state.offset - tail.byteLength;
    const segment = { start, key: `${this.holdings.prefix()}staged-${start}`, size: tail.byteLength };
    if (tail.byteLength > 0) {
      await this.holdings.leaseFirstWrite(state);
      await this.holdings.client(state).putObject(segment.key, tail, { contentLength: tail.byteLength });
    }
    this.holdings.store.adoptedTail(tail.byteLength > 0 ? segment : undefined);
  }
}

/** Staged segments read back from storage, then `tail`: one part's body. */
export function segmentsThen(client: S3Client, segments: Segment[], tail?: Uint8Array | ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const sources = segments.map((s) => () => readRange(client, { key: s.key, start: 0, end: s.size }));
  if (tail !== undefined) sources.push(async () => (tail instanceof ReadableStream ? tail : new Blob([tail]).stream()));
  return joinStreams(sources);
}
