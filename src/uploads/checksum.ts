import { ResumableSha256 } from '../lib/resumable-sha256';
import type { S3Client } from '../storage/s3-client';
import { readRange } from './assembler';
import type { State } from './session-store';
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm } from './tus-protocol';

/** A background checksum reads this much at a time, saving its state after each read. */
const HASH_READ = 256 * 1024 * 1024;
/** ...and hands over to its next alarm after this long, so no one invocation runs for hours. */
const HASH_RUN_MS = 60_000;

/** The running SHA-256 for this upload's next bytes; none for partial uploads (the final one hashes). */
export function runningHash(state: State): ResumableSha256 | undefined {
  if (state.concat) return undefined;
  const hasher = ResumableSha256.load(state.hash);
  return hasher.hashed === state.offset ? hasher : undefined;
}

/** The digest of one request's body, for Upload-Checksum (native: it never holds the bytes). */
export class RequestDigest {
  private readonly stream: DigestStream;
  private readonly writer: WritableStreamDefaultWriter<ArrayBuffer | ArrayBufferView>;

  constructor(readonly algorithm: ChecksumAlgorithm) {
    this.stream = new crypto.DigestStream(CHECKSUM_ALGORITHMS[algorithm]);
    this.writer = this.stream.getWriter();
  }

  /** Digests never refuse a chunk: the writes are queued instead of waited on one by one. */
  update(chunk: Uint8Array): void {
    this.writer.write(chunk).catch(() => {});
  }

  /** Whether the body's digest is `expected` (base64, as the header carries it). */
  async matches(expected: string): Promise<boolean> {
    await this.writer.close();
    return btoa(String.fromCharCode(...new Uint8Array(await this.stream.digest))) === expected;
  }
}

/** The SHA-256 of the whole upload: from the running hash, or (uploads from before it) by reading the object once. */
export async function uploadChecksum(state: State, client: S3Client): Promise<string> {
  const hasher = runningHash(state);
  if (hasher) return hasher.hex();
  return (await hashObject(client, state.key as string, state.offset, ResumableSha256.load(undefined), Number.POSITIVE_INFINITY)).hex();
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
