import type { DetectedType } from '../files/inspect';
import { chooseKey, originalKey } from '../files/naming';
import { extensionOf } from '../files/record';
import { RENAME_MAX_BYTES, keyExtension } from '../files/rename';
import type { FilesDeps } from '../files/service';
import { log } from '../lib/log';
import type { S3Client } from '../storage/s3-client';

/**
 * A direct upload's key is fixed when it starts, before any byte exists (it is in every presigned
 * part URL), so it can only follow the client's name: under File Naming `uuid`, `<id>.<ext>` with
 * the name's extension, as ever; under `original`, the name's stem (chooseKey: made safe, `-2`…
 * on a collision, claimed by the upload's own live-uploads row while it lives) with the name's
 * extension. `settleKey` puts the bytes' extension right at completion.
 */
export async function directKey(deps: Pick<FilesDeps, 'repo' | 'fileNaming'>, client: S3Client, id: string, filename: string, until: number): Promise<string> {
  const ext = extensionOf(filename);
  return (await chooseKey(deps, client, { id, ext, typeExt: ext, filename, replaces: false, owner: { id, until } })).key;
}

/** Where a completed upload's bytes end up, and how to let go of what the move left behind. */
export interface SettledKey {
  key: string;
  /** After the record points to `key`: the provisional object goes (the sweep's if this fails). */
  cleanUp(): Promise<void>;
}

/**
 * The key a completed upload's record points to. Under `original` a name's key carries the bytes'
 * extension, never the client's (naming.ts): when the sniffed type's extension is not the one the
 * name gave, the object is copied inside the store (CopyObject) to `<stem>.<the bytes' extension>`
 * and the provisional one deleted once the record points to the copy. Over 5 GiB (CopyObject's
 * limit; not every store copies parts) it stays where it is, with a warning in the log.
 */
export async function settleKey(deps: Pick<FilesDeps, 'repo' | 'fileNaming'>, client: S3Client, id: string, key: string, size: number, detected: DetectedType, filename: string): Promise<SettledKey> {
  const kept = { key, cleanUp: async () => {} };
  // An id's key (`uuid`, or a name that leaves no stem) keeps the name's extension, as ever.
  if (key === originalKey(id, extensionOf(filename)) || keyExtension(key, id) === detected.typeExt) return kept;
  if (size > RENAME_MAX_BYTES) {
    log('warn', 'direct upload keeps its name\'s extension: too large to copy', { file: id, key, type: detected.type });
    return kept;
  }
  const chosen = await chooseKey(deps, client, { id, ext: detected.ext, typeExt: detected.typeExt, filename, replaces: false });
  try {
    await client.copyObject(key, chosen.key);
  } catch (error) {
    // The copy may have landed before its answer was lost: it goes, then the claim.
    await client.deleteObject(chosen.key).then(chosen.release, () => {});
    throw error;
  }
  return {
    key: chosen.key,
    cleanUp: async () => {
      await chosen.release();
      await client.deleteObject(key).catch((error: Error) => log('warn', 'provisional direct key left for the sweep', { file: id, key, reason: error.message }));
    },
  };
}
