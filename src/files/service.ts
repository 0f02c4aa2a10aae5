import type { Config } from '../config';
import type { FilesRepository } from '../db/files-repository';
import type { FileRow } from '../db/schema';
import { AppError } from '../errors/app-error';
import { storageFor } from '../storage';
import type { S3Client } from '../storage/s3-client';
import { writeStream } from '../storage/stream-writer';
import type { FileFieldsPatch } from './fields';
import { extensionOf, titleFromFilename } from './record';

export interface FilesDeps {
  config: Config;
  repo: FilesRepository;
}

/** Bytes to store: a stream of unknown length plus what the client said about it. */
export interface IncomingFile {
  stream: ReadableStream<Uint8Array>;
  /** The client's file name; it becomes `filename_download`, never a storage key. */
  filename: string;
  declaredType: string | undefined;
}

/** Where a file's thumbnails live; deleting the prefix invalidates them all. */
export function derivativesPrefix(id: string): string {
  return `generated/${id}/`;
}

/** `<id>.<ext>`: a client-supplied name never becomes a key, so `../../x` cannot escape the root. */
function diskName(id: string, filename: string): string {
  const ext = extensionOf(filename);
  return ext ? `${id}.${ext}` : id;
}

/**
 * Streams the bytes to `key` (bounded memory, equal parts) while computing their SHA-256, so the
 * object is read once. The size cap refuses an oversize file with nothing left in the bucket.
 */
async function storeBytes(
  deps: FilesDeps,
  client: S3Client,
  key: string,
  file: IncomingFile,
  type: string,
): Promise<{ size: number; checksum: string }> {
  const digest = new crypto.DigestStream('SHA-256');
  const hashing = file.stream.pipeThrough(teeTo(digest));
  const { size } = await writeStream(client, key, hashing, {
    partSize: client.location.tusChunkSize,
    contentType: type,
    ...(deps.config.files.maxUploadSize === undefined ? {} : { maxSize: deps.config.files.maxUploadSize }),
  });
  const checksum = [...new Uint8Array(await digest.digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  return { size, checksum };
}

/** A pass-through that also writes every chunk to `sink`. */
function teeTo(sink: WritableStream<Uint8Array>): TransformStream<Uint8Array, Uint8Array> {
  const writer = sink.getWriter();
  return new TransformStream({
    async transform(chunk, controller) {
      await writer.write(chunk);
      controller.enqueue(chunk);
    },
    async flush() {
      await writer.close();
    },
  });
}

function typeOf(file: IncomingFile): string {
  return file.declaredType && file.declaredType !== '' ? file.declaredType : 'application/octet-stream';
}

/**
 * Creates a file: bytes to `<id>.<ext>` in the chosen (or default) location, then the record. If the
 * record cannot be written the object is removed again, so nothing is left half-created.
 */
export async function createFile(
  deps: FilesDeps,
  file: IncomingFile,
  fields: Partial<FileFieldsPatch>,
  options: { storage?: string; uploadedBy?: string | null } = {},
): Promise<FileRow> {
  const client = storageFor(deps.config, options.storage);
  const id = crypto.randomUUID();
  const filenameDownload = fields.filenameDownload ?? file.filename;
  const key = diskName(id, file.filename || filenameDownload);
  const type = typeOf(file);
  const { size, checksum } = await storeBytes(deps, client, key, file, type);
  const now = new Date().toISOString();
  try {
    return await deps.repo.insert({
      ...fields,
      id,
      storage: client.location.name,
      filenameDisk: key,
      filenameDownload,
      title: fields.title ?? titleFromFilename(filenameDownload),
      type,
      filesize: size,
      checksum,
      uploadedBy: options.uploadedBy ?? null,
      createdOn: now,
      uploadedOn: now,
      modifiedOn: now,
    });
  } catch (error) {
    await client.deleteObject(key).catch(() => {});
    throw error;
  }
}

/**
 * Replaces a file's bytes (Directus: PATCH /files/:id with multipart). The new bytes are written
 * completely before anything else changes; then the record moves on, its derivatives are removed,
 * and an old object under a different name is deleted.
 */
export async function replaceFile(
  deps: FilesDeps,
  id: string,
  file: IncomingFile,
  fields: Partial<FileFieldsPatch>,
): Promise<FileRow> {
  const existing = await requireFile(deps, id);
  const client = storageFor(deps.config, existing.storage);
  const key = diskName(id, file.filename || existing.filenameDownload);
  const type = typeOf(file);
  const { size, checksum } = await storeBytes(deps, client, key, file, type);
  const now = new Date().toISOString();
  const updated = await deps.repo.update(id, {
    ...fields,
    filenameDisk: key,
    type,
    filesize: size,
    checksum,
    width: null,
    height: null,
    uploadedOn: now,
    modifiedOn: now,
  });
  if (!updated) throw notFound(id);
  await client.deletePrefix(derivativesPrefix(id));
  if (existing.filenameDisk && existing.filenameDisk !== key) await client.deleteObject(existing.filenameDisk);
  return updated;
}

export async function updateFileFields(deps: FilesDeps, id: string, fields: Partial<FileFieldsPatch>): Promise<FileRow> {
  const updated = await deps.repo.update(id, fields);
  if (!updated) throw notFound(id);
  return updated;
}

/**
 * Deletes the original, every derivative, then the record. A storage failure stops before the
 * record goes, and the error says so: the file is never half-deleted silently.
 */
export async function deleteFile(deps: FilesDeps, id: string): Promise<void> {
  const existing = await requireFile(deps, id);
  const client = storageFor(deps.config, existing.storage);
  try {
    await client.deletePrefix(derivativesPrefix(id));
    if (existing.filenameDisk) await client.deleteObject(existing.filenameDisk);
  } catch (error) {
    if (error instanceof AppError) {
      throw new AppError(error.code, `File ${id} was not deleted (its record is kept): ${error.message}`, {
        cause: error,
        extensions: error.extensions,
      });
    }
    throw error;
  }
  await deps.repo.delete(id);
}

export async function requireFile(deps: FilesDeps, id: string): Promise<FileRow> {
  const row = isUuid(id) ? await deps.repo.get(id) : undefined;
  if (!row) throw notFound(id);
  return row;
}

export function isUuid(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
}

function notFound(id: string): AppError {
  return new AppError('NOT_FOUND', `File "${id}" doesn't exist.`);
}
