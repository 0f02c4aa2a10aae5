import { hex } from '../lib/bytes';
import { ResumableSha256 } from '../lib/resumable-sha256';
import type { S3Client } from '../storage/s3-client';
import { readRange } from './assembler';
import type { State } from './session-store';
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm } from './tus-protocol';

/** A background checksum reads this much at a time, saving its state after each read. */
const HASH_READ = 256 * 1024 * 1024;
/** ...and hands over to its next alarm after this long, so no one invocation runs for hours. */
const HASH_RUN_MS = 60_000;

/**
 * A digest of bytes as they pass, native (crypto.DigestStream: the runtime's SHA with the CPU's
 * SHA instructions, ~10x the WebAssembly hash here), never holding more than one chunk.
 */
export class Digest {
  /** Bytes given so far. */
  hashed = 0;
  private readonly stream: DigestStream;
  private readonly writer: WritableStreamDefaultWriter<ArrayBuffer | ArrayBufferView>;
  private previous: Promise<void> = Promise.resolve();

  constructor(algorithm: string) {
    this.stream = new crypto.DigestStream(algorithm);
    this.writer = this.stream.getWriter();
  }

  /** Takes the next chunk (which must not change afterwards); resolves once the one before it is digested. */
  async update(chunk: Uint8Array): Promise<void> {
    const previous = this.previous;
    this.previous = this.writer.write(chunk);
    this.hashed += chunk.byteLength;
    await previous;
  }

  async bytes(): Promise<Uint8Array> {
    await this.previous;
    await this.writer.close();
    return new Uint8Array(await this.stream.digest);
  }
}

/** The digest of one request's body, for Upload-Checksum. */
export class RequestDigest extends Digest {
  constructor(readonly algorithm: ChecksumAlgorithm) {
    super(CHECKSUM_ALGORITHMS[algorithm]);
  }

  /** Whether the body's digest is `expected` (base64, as the header carries it). */
  async matches(expected: string): Promise<boolean> {
    return btoa(String.fromCharCode(...(await this.bytes()))) === expected;
  }
}

/**
 * The running SHA-256 of an upload, for its record's checksum, kept in the Durable Object's memory
 * from PATCH to PATCH: native hashing cannot save its state, and the WebAssembly hash that could
 * (ResumableSha256) took half the CPU of a PATCH, the most of anything on the byte path (0.5-0.7 s
 * per 100 MiB here, measured). It goes on only while it has seen exactly the bytes before the next
 * PATCH: an eviction, an open part given up (a cut in the middle of a part), a body cut in the
 * middle of a piece or a refused Upload-Checksum ends it, and the checksum is then made after the
 * record, in the background, from the stored object (hashRun), as for a final upload.
 */
export class RunningHash {
  private digest: Digest | undefined;

  /** The hash to feed the bytes from `offset` on; none once it has lost the thread, and none for partial uploads. */
  at(state: State, offset: number): Digest | undefined {
    if (state.concat) return undefined;
    // At 0 nothing is lost: an upload that starts again from its first byte is hashed again.
    if (offset === 0) this.digest = new Digest('SHA-256');
    if (this.digest?.hashed !== offset) this.digest = undefined;
    return this.digest;
  }

  /** The upload's checksum (hex) if the hash saw exactly its bytes; null: it is made in the background. */
  async checksum(state: State): Promise<string | null> {
    const digest = this.digest;
    this.digest = undefined;
    if (state.concat || digest?.hashed !== state.offset) return null;
    return hex(await digest.bytes());
  }
}

/**
 * One run of a final upload's checksum, computed after its record exists: the object is read in
 * ranges and `saved` is handed the hash state after each, until HASH_RUN_MS has passed. The hex
 * digest once every byte is hashed, else undefined (the next run goes on from the saved state).
 */
export async function hashRun(client: S3Client, state: State, saved: (hash: string) => void): Promise<string | undefined> {
  const hasher = ResumableSha256.load(state.hashing?.hash);
  await hashObject(client, state.key as string, state.offset, hasher, Date.now() + HASH_RUN_MS, (h) => saved(h.save()));
  return hasher.hashed < state.offset ? undefined : hasher.hex();
}

/** Feeds bytes [hasher.hashed, size) of `key` to `hasher`, a range at a time, until done or past `deadline`. */
async function hashObject(client: S3Client, key: string, size: number, hasher: ResumableSha256, deadline: number, saved?: (h: ResumableSha256) => void): Promise<ResumableSha256> {
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
