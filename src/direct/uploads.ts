import { leaseRenewal } from '../db/live-uploads-repository';
import type { FileRow } from '../db/schema';
import { AppError } from '../errors/app-error';
import type { FileFieldsPatch } from '../files/fields';
import { assertTypeAllowed, detectType, HEAD_BYTES } from '../files/inspect';
import { assertFolder, type FilesDeps, learnStored, recordNewFile } from '../files/service';
import { hex } from '../lib/bytes';
import { log } from '../lib/log';
import { storageFor } from '../storage';
import { type PresignedUrl, presignable, presignUploadPart } from '../storage/presign';
import type { S3Client, UploadedPart } from '../storage/s3-client';
import { type Caller, type DirectIssue, requireIssued } from './issue';
import { directKey, settleKey } from './keys';

/** S3's part numbers. */
const MAX_PARTS = 10_000;

/** What a client asks for when it starts: `POST /files/s3/multipart`. */
export interface DirectStart {
  filename: string;
  declaredType: string | undefined;
  fields: Partial<FileFieldsPatch>;
  storage: string | undefined;
}

/**
 * Issues a direct-to-bucket upload (Uppy's AwsS3 protocol, Companion's routes): a new file id, its
 * key chosen here (keys.ts: `<id>.<ext>`, or under File Naming `original` the name made safe — a
 * client's name never becomes a key as sent), and an S3 multipart upload there. The fields are
 * checked now, as POST /files checks them (a folder that does not exist is refused before anything
 * is created), and kept with the upload for its record. It lives for TUS_UPLOAD_EXPIRATION from its
 * last activity; then the sweep aborts it.
 */
export async function startDirectUpload(deps: FilesDeps, caller: Caller, start: DirectStart, now = Date.now()): Promise<{ key: string; uploadId: string }> {
  await assertFolder(deps, start.fields);
  const client = storageFor(deps.config, start.storage);
  presignable(client);
  const id = crypto.randomUUID();
  const key = await directKey(deps, client, id, start.filename, now + deps.config.tus.expirationMs);
  // A name's key is claimed by this upload's live row from here: a failure below lets go of it.
  const uploadId = await client.createMultipartUpload(key).catch(async (error: unknown) => {
    await deps.live.forget(id).catch(() => {});
    throw error;
  });
  const issue: DirectIssue = { owner: caller.tokenHash, uploadedBy: caller.principal.name, filename: start.filename, declaredType: start.declaredType, fields: start.fields };
  try {
    await deps.live.track({ id, storage: client.location.name, key, s3UploadId: uploadId, liveUntil: now + deps.config.tus.expirationMs, direct: JSON.stringify(issue) });
  } catch (error) {
    await client.abortMultipartUpload(key, uploadId).catch(() => {});
    await deps.live.forget(id).catch(() => {});
    throw error;
  }
  return { key, uploadId };
}

/** A presigned UploadPart URL for part `partNumber` (1–10,000) of an issued upload; activity keeps it alive. */
export async function signPart(deps: FilesDeps, caller: Caller, uploadId: string, key: string, partNumber: number, now = Date.now()): Promise<PresignedUrl> {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PARTS) {
    throw new AppError('INVALID_PAYLOAD', `Part numbers run from 1 to ${MAX_PARTS} (S3's limit); got "${String(partNumber).slice(0, 16)}".`);
  }
  const { row } = await requireIssued(deps.live, caller, uploadId, key, 'continue', now);
  const window = deps.config.tus.expirationMs / 2;
  const renewed = leaseRenewal(row.liveUntil, now, window);
  if (renewed !== undefined) await deps.live.extend(row.id, renewed);
  return presignUploadPart(storageFor(deps.config, row.storage), key, uploadId, partNumber, deps.config.files.directUrlExpiresS, now);
}

/** The parts stored so far (ListParts), for a client that resumes. */
export async function storedParts(deps: FilesDeps, caller: Caller, uploadId: string, key: string): Promise<UploadedPart[]> {
  const { row } = await requireIssued(deps.live, caller, uploadId, key, 'continue');
  return storageFor(deps.config, row.storage).listParts(key, uploadId);
}

/** Aborts an issued upload: its parts are removed and it is forgotten. */
export async function abortDirectUpload(deps: FilesDeps, caller: Caller, uploadId: string, key: string): Promise<void> {
  const { row } = await requireIssued(deps.live, caller, uploadId, key, 'abort');
  await storageFor(deps.config, row.storage).abortMultipartUpload(key, uploadId);
  await deps.live.forget(row.id);
}

/** The file made by a completion, and its checksum's work, for the caller to run in the background. */
export interface Completed {
  row: FileRow;
  /** Computes the SHA-256 from the stored bytes and writes it to the record; undefined when it is known. */
  checksum: (() => Promise<void>) | undefined;
}

/**
 * Completes an issued upload and makes its record from the bytes in the bucket, never the client's
 * word, through the same steps as POST /files: the size from HeadObject (over FILES_MAX_UPLOAD_SIZE
 * → 413 and the object deleted), the type sniffed from a ranged read of the head and held to
 * FILES_MIME_TYPE_ALLOW_LIST (415 and deleted), the metadata through learnStored's ranged reads,
 * then recordNewFile. The checksum follows in the background. Safe to repeat after a lost answer:
 * a record already made is returned as it is; a completion already done at S3 (NoSuchUpload) is
 * recognised by the object at the key, which only this upload's completion can have written.
 * Other failures leave the object and the upload for a retry (or the sweep, once it expires).
 */
export async function completeDirectUpload(deps: FilesDeps, caller: Caller, uploadId: string, key: string, parts: UploadedPart[]): Promise<Completed> {
  const { row: upload, issue } = await requireIssued(deps.live, caller, uploadId, key, 'continue');
  const existing = await deps.repo.get(upload.id);
  if (existing) return { row: existing, checksum: undefined };
  const client = storageFor(deps.config, upload.storage);
  try {
    await client.completeMultipartUpload(key, uploadId, parts);
  } catch (error) {
    if (!(await client.headObject(key).catch(() => null))) throw error;
  }
  const info = await client.headObject(key);
  if (!info) throw new AppError('STORAGE_OBJECT_NOT_FOUND', `CompleteMultipartUpload: storage location "${client.location.name}" has no object at the completed key; try the upload again.`);
  const { files } = deps.config;
  const refused = async (error: AppError): Promise<never> => {
    await client.deleteObject(key).catch((cause: Error) => log('warn', 'orphan left for the sweep', { storage: client.location.name, key, reason: cause.message }));
    await deps.live.forget(upload.id);
    throw error;
  };
  if (files.maxUploadSize !== undefined && info.size > files.maxUploadSize) {
    await refused(new AppError('CONTENT_TOO_LARGE', `The file is ${info.size} bytes; the largest accepted is ${files.maxUploadSize} (FILES_MAX_UPLOAD_SIZE). It was not kept.`));
  }
  const head = info.size === 0 ? new Uint8Array(0) : ((await client.readBytes(key, { start: 0, end: Math.min(info.size, HEAD_BYTES) })) ?? new Uint8Array(0));
  const detected = await detectType(head, issue.declaredType, issue.filename);
  const { type } = detected;
  try {
    assertTypeAllowed(type, files.mimeTypeAllowList);
  } catch (error) {
    await refused(error as AppError);
  }
  const settled = await settleKey(deps, client, upload.id, key, info.size, detected, issue.filename);
  const ingested = await learnStored(deps, client, { key: settled.key, type, size: info.size, checksum: null, head });
  const filenameDownload = issue.fields.filenameDownload ?? issue.filename;
  const row = await recordNewFile(deps, client, upload.id, ingested, { ...issue.fields, filenameDownload }, issue.uploadedBy);
  await settled.cleanUp();
  // waitUntil may last 30 s past the answer: a larger file's checksum is the sweep's (checksum-sweep.ts).
  return { row, checksum: info.size <= files.directChecksumMax ? () => recordChecksum(deps, client, row) : undefined };
}

/**
 * The SHA-256 of a file's stored bytes, read once as a stream (the runtime's digest: the bytes are
 * read at the store's speed), written to the record unless its bytes were replaced meanwhile. A
 * failure leaves `checksum` null, as for any file whose checksum is not known.
 */
async function recordChecksum(deps: FilesDeps, client: S3Client, row: FileRow): Promise<void> {
  const key = row.filenameDisk as string;
  try {
    const read = await client.readObject(key);
    if (!read) return;
    const digest = new crypto.DigestStream('SHA-256');
    await read.body.pipeTo(digest);
    const checksum = hex(await digest.digest);
    const now = await deps.repo.get(row.id);
    if (now?.filenameDisk === key) await deps.repo.update(row.id, { checksum });
  } catch (error) {
    log('warn', 'checksum not computed', { file: row.id, storage: client.location.name, reason: (error as Error).message });
  }
}

/**
 * The sweep's part: direct uploads whose lease ended are aborted (their parts removed) and
 * forgotten; a completed one's abort is a no-op (NoSuchUpload) and its record stays. At most
 * `limit` per run; the rest go on the next.
 */
export async function sweepDirectUploads(deps: Pick<FilesDeps, 'live'>, client: S3Client, now: number, limit = 1000): Promise<{ key: string; uploadId: string }[]> {
  const aborted: { key: string; uploadId: string }[] = [];
  for (const row of await deps.live.expiredDirect(client.location.name, now, limit)) {
    if (row.s3UploadId) await client.abortMultipartUpload(row.key, row.s3UploadId);
    await deps.live.forget(row.id);
    aborted.push({ key: row.key, uploadId: row.s3UploadId ?? '' });
  }
  return aborted;
}
