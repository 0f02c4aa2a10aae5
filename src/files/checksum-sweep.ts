import type { Config } from '../config';
import type { ChecksumProgressRepository } from '../db/checksum-progress-repository';
import { log } from '../lib/log';
import { ResumableSha256 } from '../lib/resumable-sha256';
import { storageFor } from '../storage';

/** Files looked at per run, oldest first. */
const FILES_PER_RUN = 10;

/**
 * The sweep's part in checksums: files whose checksum is still missing — direct uploads larger than
 * FILES_DIRECT_CHECKSUM_MAX, or one whose background read failed — are hashed from their stored
 * bytes, at most `budget` bytes per run, each run going on from the SHA-256 state the last one saved
 * in D1 (ResumableSha256: its state survives the isolate). The checksum is written when the last
 * byte is hashed, unless the file's bytes were replaced meanwhile; a saved state for another key
 * (a replacement or a rename) is dropped and the hashing starts over.
 */
export async function continueChecksums(config: Config, repo: ChecksumProgressRepository, budget: number): Promise<{ finished: string[]; advanced: string[] }> {
  const done = { finished: [] as string[], advanced: [] as string[] };
  let left = budget;
  for (const row of await repo.pending(FILES_PER_RUN)) {
    if (left <= 0) break;
    const key = row.filenameDisk as string;
    try {
      const saved = await repo.get(row.id);
      const hasher = ResumableSha256.load(saved?.key === key ? saved.state : undefined);
      const start = hasher.hashed;
      const end = Math.min(row.filesize, start + left);
      const read = await storageFor(config, row.storage).readObject(key, { start, end });
      if (!read) throw new Error(`no object at "${key}"`);
      const reader = read.body.getReader();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) hasher.update(chunk.value);
      if (hasher.hashed !== end) throw new Error(`read ${hasher.hashed - start} bytes from ${start}, expected ${end - start}`);
      left -= end - start;
      if (end < row.filesize) {
        await repo.save(row.id, key, hasher.save());
        done.advanced.push(row.id);
      } else {
        await repo.finish(row.id, key, hasher.hex());
        done.finished.push(row.id);
      }
    } catch (error) {
      log('warn', 'checksum not advanced', { file: row.id, storage: row.storage, reason: (error as Error).message });
    }
  }
  return done;
}
