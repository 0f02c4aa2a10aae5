import { mayDo } from '../auth/policy';
import type { Principal } from '../auth/tokens';
import type { LiveUploadRow } from '../db/schema';
import type { LiveUploadsRepository } from '../db/live-uploads-repository';
import { AppError } from '../errors/app-error';
import type { FileFieldsPatch } from '../files/fields';

/**
 * What a direct-to-bucket upload was issued with, kept in its live-uploads record (`direct`, JSON)
 * beside its id (the file's id), storage location, key and S3 upload id.
 */
export interface DirectIssue {
  /** The SHA-256 of the bearer token that created it: only that token may go on with it. */
  owner: string;
  uploadedBy: string | null;
  /** The client's file name: `filename_download`, never a key. */
  filename: string;
  declaredType: string | undefined;
  fields: Partial<FileFieldsPatch>;
}

/** Who calls: the principal, and the hash of the token it came with. */
export interface Caller {
  principal: Principal;
  tokenHash: string;
}

/** An upload this server issued, as found for a request that names it. */
export interface Issued {
  row: LiveUploadRow;
  issue: DirectIssue;
}

/**
 * The upload `uploadId` if this server issued it for `key`, it is live, and `caller` may act on it:
 * only the token that created it signs, lists, completes or aborts it; an admin may also abort any.
 * Anything else is refused here, before any storage request: 404 for an id not issued (or issued
 * for another key, or expired: the same answer, so ids cannot be probed), 403 for another token's.
 */
export async function requireIssued(live: LiveUploadsRepository, caller: Caller, uploadId: string, key: string, act: 'continue' | 'abort', now = Date.now()): Promise<Issued> {
  const row = uploadId.length <= 1024 ? await live.direct(uploadId) : undefined;
  if (!row || row.key !== key || row.liveUntil <= now || row.direct === null) {
    throw new AppError('NOT_FOUND', `No upload "${uploadId.slice(0, 64)}" for key "${key.slice(0, 64)}": start one with POST /files/s3/multipart (an upload expires after TUS_UPLOAD_EXPIRATION without activity).`);
  }
  const issue = JSON.parse(row.direct) as DirectIssue;
  if (issue.owner !== caller.tokenHash && !(act === 'abort' && mayDo(caller.principal, 'delete'))) {
    throw new AppError('FORBIDDEN', 'This upload was started with another token: only that token can go on with it (an admin token can abort it).');
  }
  return { row, issue };
}
