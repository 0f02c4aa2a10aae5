import type { FileRow } from '../db/schema';
import { AppError } from '../errors/app-error';
import { log } from '../lib/log';
import { storageFor } from '../storage';
import { checkedKeyName, claimFreeKey } from './naming';
import { changedMeanwhile, type FilesDeps, requireCurrentFile } from './service';

/**
 * The largest file a rename copies: S3's CopyObject copies up to 5 GiB in one request. Larger
 * objects would need a multipart copy (UploadPartCopy), which not every store does (s3rver does
 * not); they are refused with a 413 instead.
 */
export const RENAME_MAX_BYTES = 5 * 1024 ** 3;

/**
 * The extension of a stored key: what follows `<id>` and a replacement's `.<8 hex>` in an id's
 * key, what follows the stem in a name's key (stems have no dots). Undefined when there is none.
 */
export function keyExtension(key: string, id: string): string | undefined {
  const rest = key.startsWith(id) ? key.slice(id.length).replace(/^\.[0-9a-f]{8}(?=\.|$)/, '') : key.replace(/^[^.]*/, '');
  return rest.startsWith('.') ? rest.slice(1) : undefined;
}

/**
 * Renames a file's object (Directus 8: PATCH `filename_disk`): the new key is checked
 * (checkedKeyName: a key, never a path, the type's extension kept), claimed (409 when the store or
 * a record has it, or an upload is writing it), the object copied to it (CopyObject), the record
 * switched in one conditional update, and the old object deleted. Cut at any step, the file works:
 * - before the switch, the record still points to the old object; the copy is an orphan whose claim
 *   expires, and the sweep removes it;
 * - after the switch, the old key is left with an expired claim, which makes it the sweep's too;
 * - a replacement or another rename that switched first makes this switch miss: the copy is deleted
 *   and the answer is a 409.
 * Derivatives (`generated/<id>/<hash>`) are keyed by the id and the bytes' checksum, never by the
 * key, so they follow without moving; the edge cache is purged by the route.
 */
export async function renameFile(deps: FilesDeps, id: string, given: unknown): Promise<FileRow> {
  const existing = await requireCurrentFile(deps, id);
  const from = existing.filenameDisk ?? existing.id;
  const to = checkedKeyName(given, keyExtension(from, existing.id));
  if (to === from) return existing;
  if (existing.filesize > RENAME_MAX_BYTES) {
    throw new AppError('CONTENT_TOO_LARGE', `Files over ${RENAME_MAX_BYTES} bytes (5 GiB, S3 CopyObject's limit) cannot be renamed; this one has ${existing.filesize}.`, {
      extensions: { limit: RENAME_MAX_BYTES },
    });
  }
  const client = storageFor(deps.config, existing.storage);
  const claim = await claimFreeKey(deps.repo, client, to);
  if (!claim) throw new AppError('CONFLICT', `"filename_disk" "${to}" is in use in storage location "${existing.storage}": choose another name.`);
  try {
    await client.copyObject(from, to);
  } catch (error) {
    // The copy may have landed before its answer was lost: it goes, then the claim.
    await client.deleteObject(to).then(claim.release, () => {});
    const now = await (deps.primary ?? deps.repo).get(id);
    if (now?.filenameDisk !== existing.filenameDisk) throw changedMeanwhile(id);
    throw error;
  }
  // A failure here has an unknown outcome: the copy and the old object both stay, and whichever the
  // record does not point to is the sweep's once its claim expires.
  const switched = await deps.repo.switchKey(id, existing.storage, from, to);
  if (!switched) {
    await client.deleteObject(to).catch((error: Error) => log('warn', 'rename copy left for the sweep', { file: id, key: to, reason: error.message }));
    throw changedMeanwhile(id);
  }
  try {
    await client.deleteObject(from);
    await deps.repo.releaseClaim(existing.storage, from);
  } catch (error) {
    log('warn', 'renamed bytes left for the sweep', { file: id, storage: existing.storage, key: from, reason: (error as Error).message });
  }
  return switched;
}
