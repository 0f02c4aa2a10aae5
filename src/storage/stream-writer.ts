import { AppError } from '../errors/app-error';
import { cutParts, MAX_PARTS } from './parts';
import type { PutOptions, S3Client, UploadedPart } from './s3-client';

/**
 * The largest part a buffered write holds (two at a time): TUS__CHUNK_SIZE may be up to 5 GiB for
 * TUS, whose parts stream, but POST /files, imports and replacements buffer theirs.
 */
export const MAX_BUFFERED_PART = 16 * 1024 * 1024;

export interface WriteOptions extends PutOptions {
  /** P: every part but the last is exactly this many bytes (5 MiB to MAX_BUFFERED_PART). */
  partSize: number;
  /** Refuse (413, nothing left behind) a stream longer than this. */
  maxSize?: number;
  /** Told when a multipart upload starts, as each part is sent, and when it ends (see LiveUploads). */
  track?: WriteTracking;
}

/** Keeps the record of live uploads true for one write, so the sweep leaves it alone while it runs. */
export interface WriteTracking {
  begin(uploadId: string): Promise<void>;
  renew(): Promise<void>;
  end(): Promise<void>;
}

export interface WriteResult {
  size: number;
  /** How the object was written: one PutObject, or a multipart upload of `parts` parts. */
  parts: number;
}

/**
 * Writes a stream of unknown length to `key` with bounded memory: one PutObject when the whole
 * stream fits in one part, otherwise a multipart upload of equal parts of P bytes (the last may be
 * shorter). At most two parts are held: the one uploading and the one filling. Uploads are buffered,
 * so a failed part is retried with the same bytes, and a completion whose answer was lost is sent
 * again and checked. On any failure the multipart upload is aborted and nothing is left in the
 * bucket (where the abort itself fails, the upload is left to the sweep: it is no longer tracked).
 */
export async function writeStream(
  client: S3Client,
  key: string,
  stream: ReadableStream<Uint8Array>,
  options: WriteOptions,
): Promise<WriteResult> {
  const { partSize, maxSize, track, ...put } = options;
  if (partSize > MAX_BUFFERED_PART) throw new Error(`writeStream: parts of ${partSize} bytes would not fit in memory`);
  const parts = cutParts(stream, partSize);
  let size = 0;
  const take = async (): Promise<Uint8Array | undefined> => {
    const next = await parts.next();
    if (next.done) return undefined;
    size += next.value.byteLength;
    if (maxSize !== undefined && size > maxSize) {
      throw new AppError('CONTENT_TOO_LARGE', `The file is larger than the limit of ${maxSize} bytes.`, {
        extensions: { limit: maxSize },
      });
    }
    return next.value;
  };

  let uploadId: string | undefined;
  try {
    const first = (await take()) ?? new Uint8Array(0);
    let next = await take();
    if (next === undefined) {
      await client.putObject(key, first, { ...put, contentLength: first.byteLength });
      return { size, parts: 1 };
    }

    const startedAt = Date.now();
    uploadId = await client.createMultipartUpload(key, put);
    await track?.begin(uploadId);
    const done: UploadedPart[] = [];
    let inFlight: Promise<UploadedPart> | undefined;
    // One upload in flight while the next part fills: reading and sending overlap.
    const send = async (bytes: Uint8Array) => {
      if (inFlight) done.push(await inFlight);
      const number = done.length + 1;
      if (number > MAX_PARTS) {
        throw new AppError('CONTENT_TOO_LARGE', `The file needs more than ${MAX_PARTS} parts of ${partSize} bytes.`);
      }
      inFlight = client.uploadPart(key, uploadId as string, number, bytes);
      inFlight.catch(() => {}); // awaited below; this only keeps the rejection from being reported as unhandled
      await track?.renew();
    };
    await send(first);
    while (next !== undefined) {
      await send(next);
      next = await take();
    }
    if (inFlight) done.push(await inFlight);
    await client.completeMultipartUpload(key, uploadId, done, { size, startedAt });
    return { size, parts: done.length };
  } catch (error) {
    await parts.return(undefined);
    if (uploadId) await client.abortMultipartUpload(key, uploadId).catch(() => {});
    throw error;
  } finally {
    if (uploadId) await track?.end().catch(() => {});
  }
}
