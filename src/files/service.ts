import type { Config } from '../config';
import type { FilesRepository } from '../db/files-repository';
import { leaseRenewal, type LiveUploadsRepository } from '../db/live-uploads-repository';
import type { FileRow } from '../db/schema';
import { AppError } from '../errors/app-error';
import { hex, randomToken } from '../lib/bytes';
import { log } from '../lib/log';
import { storageFor } from '../storage';
import type { S3Client } from '../storage/s3-client';
import { MAX_BUFFERED_PART, type WriteTracking, writeStream } from '../storage/stream-writer';
import { emitFileEvent, emitted } from '../events/file-events';
import { cleanName, type FileFieldsPatch, scrapedIfValid } from './fields';
import { assertTypeAllowed, detectType, HEAD_BYTES, peek } from './inspect';
import { type ScrapedMetadata, scrapeMetadata } from './metadata';
import { titleFromFilename } from './record';

export interface FilesDeps {
  config: Config;
  repo: FilesRepository;
  live: LiveUploadsRepository;
  /** Where a record the repository (a read replica) does not have is looked for before a 404. */
  primary?: FilesRepository;
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

/** Bytes now in storage, and what is known of them before their metadata is read. */
export interface StoredBytes {
  key: string;
  type: string;
  size: number;
  /** Null while it is computed in the background (a concatenated TUS upload). */
  checksum: string | null;
  /** The first bytes (up to HEAD_BYTES), for metadata. */
  head: Uint8Array;
}

/** What storing a file learned about it. */
export interface Ingested extends StoredBytes {
  scraped: ScrapedMetadata;
}

/** A private hash: 128 random bits, URL-safe base64 (22 characters), never shaped like an id. */
export function newPrivateHash(): string {
  return randomToken(16);
}

/** The key of a file's original: `<id>.<ext>` with the sniffed extension. */
export function originalKey(id: string, ext: string | undefined): string {
  return ext ? `${id}.${ext}` : id;
}

/**
 * The key of a replacement's bytes: `<id>.<8 hex>.<ext>`, never the key in use. New bytes are
 * written beside the old ones and the record switches to them in one update, so a replacement that
 * fails at any step leaves the file exactly as it was.
 */
export function replacementKey(id: string, ext: string | undefined): string {
  return originalKey(`${id}.${hex(crypto.getRandomValues(new Uint8Array(4)))}`, ext);
}

/**
 * Stores the bytes of `file` under `keyFor(ext)`, learning everything about them on the way, with
 * one read: the head is peeked to sniff the real type (refused before anything is stored when the
 * allow-list says no), the body streams to the key (bounded memory, equal parts) through a SHA-256
 * tap, and the metadata is scraped from the head (plus one Range read if it runs longer). The key
 * comes from the id and the sniffed extension: a client's name never becomes a key, so `../../x`
 * cannot escape the root. If anything fails, whatever was written is deleted again.
 */
async function ingest(deps: FilesDeps, client: S3Client, keyFor: (ext: string | undefined) => string, file: IncomingFile): Promise<Ingested> {
  const { files } = deps.config;
  const { head, stream } = await peek(file.stream, HEAD_BYTES);
  const { type, ext } = await detectType(head, file.declaredType, file.filename);
  try {
    assertTypeAllowed(type, files.mimeTypeAllowList);
  } catch (error) {
    await stream.cancel().catch(() => {});
    throw error;
  }
  const key = keyFor(ext);
  const digest = new crypto.DigestStream('SHA-256');
  // The delete also covers a write whose last answer was lost: the object may exist all the same.
  return removedOnFailure(client, key, async () => {
    const { size } = await writeStream(client, key, stream.pipeThrough(teeTo(digest)), {
      partSize: Math.min(client.location.tusChunkSize, MAX_BUFFERED_PART),
      contentType: type,
      track: trackWrite(deps, client, key),
      ...(files.maxUploadSize === undefined ? {} : { maxSize: files.maxUploadSize }),
    });
    return learnStored(deps, client, { key, type, size, checksum: hex(await digest.digest), head });
  });
}

/** Streamed writes hold their lease for an hour at a time while parts keep going. */
const WRITE_LEASE_MS = 3600_000;

/** The live-upload record of one streamed write (see LiveUploadsRepository). */
function trackWrite(deps: FilesDeps, client: S3Client, key: string): WriteTracking {
  const id = crypto.randomUUID();
  let uploadId = '';
  let until: number | undefined;
  const renew = async () => {
    const next = leaseRenewal(until, Date.now(), WRITE_LEASE_MS);
    if (next === undefined) return;
    await deps.live.track({ id, storage: client.location.name, key, s3UploadId: uploadId, liveUntil: next });
    until = next;
  };
  return {
    begin: async (s3UploadId) => {
      uploadId = s3UploadId;
      await renew();
    },
    renew,
    end: () => deps.live.forget(id),
  };
}

/**
 * Runs `step` on bytes just written to `key`; if it fails, the object is deleted before the error
 * goes on, so a failed upload, import or replacement leaves nothing behind. A delete that fails too
 * leaves an object no record points to, which the sweep removes after its grace period.
 */
async function removedOnFailure<T>(client: S3Client, key: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    await client.deleteObject(key).catch((cause: Error) => log('warn', 'orphan left for the sweep', { storage: client.location.name, key, reason: cause.message }));
    throw error;
  }
}

/** Scrapes the metadata of bytes already stored (Range reads where it runs past the head). */
export async function learnStored(deps: FilesDeps, client: S3Client, stored: StoredBytes): Promise<Ingested> {
  const read = async (start: number, end: number) => (await client.readBytes(stored.key, { start, end })) ?? new Uint8Array(0);
  const scraped = await scrapeMetadata(stored.head, stored.size, stored.type, read, deps.config.files.metadataAllowList);
  return { ...stored, scraped };
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

/** The record columns an ingest fills; values the uploader set explicitly win over scraped ones. */
function learned(ingested: Ingested, fields: Partial<FileFieldsPatch>) {
  const { scraped } = ingested;
  return {
    filenameDisk: ingested.key,
    type: ingested.type,
    filesize: ingested.size,
    checksum: ingested.checksum,
    width: scraped.width ?? null,
    height: scraped.height ?? null,
    duration: scraped.duration ?? null,
    description: fields.description ?? scrapedIfValid('description', scraped.description) ?? null,
    tags: fields.tags ?? scrapedIfValid('tags', scraped.tags) ?? null,
    location: fields.location ?? scrapedIfValid('location', scraped.location) ?? null,
    metadata: fields.metadata ?? scrapedIfValid('metadata', scraped.metadata) ?? null,
  };
}

/** Creates a file: bytes to `<id>.<ext>` in the chosen (or default) location, then the record. */
export async function createFile(
  deps: FilesDeps,
  file: IncomingFile,
  fields: Partial<FileFieldsPatch>,
  options: { storage?: string; uploadedBy?: string | null } = {},
): Promise<FileRow> {
  await assertFolder(deps, fields);
  const client = storageFor(deps.config, options.storage);
  const id = crypto.randomUUID();
  const ingested = await ingest(deps, client, (ext) => originalKey(id, ext), file);
  const filenameDownload = fields.filenameDownload ?? file.filename;
  return removedOnFailure(client, ingested.key, () => recordNewFile(deps, client, id, ingested, { ...fields, filenameDownload }, options.uploadedBy));
}

/**
 * Writes the record of a new file whose bytes are stored. Safe to repeat (a TUS completion that is
 * resumed after an unknown outcome): a record already written for `id` is returned as it is.
 */
export async function recordNewFile(
  deps: FilesDeps,
  client: S3Client,
  id: string,
  ingested: Ingested,
  fields: Partial<FileFieldsPatch> & { filenameDownload: string },
  uploadedBy?: string | null,
): Promise<FileRow> {
  // A name that came with the bytes (a part's file name, TUS `filename`, an imported URL) was not
  // checked as a field: it is cleaned here, where every new record is written.
  const filenameDownload = cleanName(fields.filenameDownload) || 'file';
  const now = new Date().toISOString();
  return emitted('files.upload', await deps.repo.insertOnce({
    ...fields,
    ...learned(ingested, fields),
    id,
    storage: client.location.name,
    filenameDownload,
    title: fields.title ?? scrapedIfValid('title', ingested.scraped.title) ?? titleFromFilename(filenameDownload),
    access: fields.access ?? deps.config.files.defaultAccess,
    privateHash: newPrivateHash(),
    uploadedBy: uploadedBy ?? null,
    createdOn: now,
    uploadedOn: now,
    modifiedOn: now,
  }));
}

/**
 * Replaces a file's bytes (Directus: PATCH /files/:id with multipart). The new bytes are written
 * completely, beside the old ones, before anything else changes; then the record moves on to them.
 */
export async function replaceFile(
  deps: FilesDeps,
  id: string,
  file: IncomingFile,
  fields: Partial<FileFieldsPatch>,
): Promise<FileRow> {
  await assertFolder(deps, fields);
  const existing = await requireFile(deps, id);
  const client = storageFor(deps.config, existing.storage);
  const ingested = await ingest(deps, client, (ext) => replacementKey(id, ext), file);
  // The new bytes bring their own name unless the form sets one (Directus): `?download` of a PNG
  // that replaced sunset.jpg is not named sunset.jpg.
  const named = { ...fields, filenameDownload: fields.filenameDownload ?? file.filename };
  return removedOnFailure(client, ingested.key, () => recordReplacement(deps, client, existing, ingested, named));
}

/**
 * Moves a file's record on to new bytes already stored, in one update: until it lands the file is
 * what it was. After it, the old bytes and the
 * derivatives made of them are removed; a storage failure there is logged, not returned (the
 * replacement is done, the derivatives can never be served again since their keys hold the old
 * checksum, and an old object no record points to is the sweep's).
 */
export async function recordReplacement(
  deps: FilesDeps,
  client: S3Client,
  existing: FileRow,
  ingested: Ingested,
  fields: Partial<FileFieldsPatch>,
): Promise<FileRow> {
  const { id } = existing;
  const now = new Date().toISOString();
  const { description, tags, location, ...fromBytes } = learned(ingested, fields);
  // A name that came with the bytes (a file part's, TUS `filename`) is cleaned as a new file's is;
  // one that cleans to nothing keeps the old name.
  const filenameDownload = fields.filenameDownload === undefined ? undefined : cleanName(fields.filenameDownload) || existing.filenameDownload;
  // Description, tags and location the client did not send stay as stored when the update lands
  // (not as read before the upload, which a PATCH meanwhile may have changed); the new bytes'
  // values fill only what is empty.
  const given = (value: unknown) => value !== undefined;
  const updated = await deps.repo.update(
    id,
    { ...fields, ...(filenameDownload === undefined ? {} : { filenameDownload }), ...fromBytes, uploadedOn: now, modifiedOn: now },
    {
      ...(given(fields.description) ? {} : { description }),
      ...(given(fields.tags) ? {} : { tags }),
      ...(given(fields.location) ? {} : { location }),
    },
  );
  if (!updated) throw notFound(id);
  await deps.repo.forgetDerivatives(id);
  try {
    await client.deletePrefix(derivativesPrefix(id));
    if (existing.filenameDisk && existing.filenameDisk !== ingested.key) await client.deleteObject(existing.filenameDisk);
  } catch (error) {
    log('warn', 'replaced bytes left for the sweep', { file: id, storage: client.location.name, reason: (error as Error).message });
  }
  return emitted('files.upload', updated);
}

export async function updateFileFields(deps: FilesDeps, id: string, fields: Partial<FileFieldsPatch> & { privateHash?: string }): Promise<FileRow> {
  await assertFolder(deps, fields);
  const updated = await deps.repo.update(id, fields);
  if (!updated) throw notFound(id);
  return emitted('files.update', updated);
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
  await emitFileEvent('files.delete', existing);
}

/**
 * A file's `folder` must be an existing folder's id: 400 otherwise, before anything is stored. Every
 * route that sets it (upload, import, replace, PATCH, TUS creation) asks here.
 */
export async function assertFolder(deps: FilesDeps, fields: Partial<FileFieldsPatch>): Promise<void> {
  const { folder } = fields;
  if (folder === undefined || folder === null) return;
  if (!(isUuid(folder) && (await deps.repo.folderExists(folder)))) {
    throw new AppError('INVALID_PAYLOAD', `"folder" names no folder ("${folder.slice(0, 64)}"): create it with POST /folders, or send null.`);
  }
}

/** A file by its private hash (capability URLs); undefined when no file has it. */
export async function fileByPrivateHash(deps: FilesDeps, hash: string): Promise<FileRow | undefined> {
  if (!/^[A-Za-z0-9_-]{22}$/.test(hash)) return undefined;
  return (await deps.repo.getByPrivateHash(hash)) ?? deps.primary?.getByPrivateHash(hash);
}

/** A file by id; a replica that does not have it yet (just created elsewhere) is not the last word. */
export async function requireFile(deps: FilesDeps, id: string): Promise<FileRow> {
  const row = isUuid(id) ? ((await deps.repo.get(id)) ?? (await deps.primary?.get(id))) : undefined;
  if (!row) throw notFound(id);
  return row;
}

export function isUuid(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
}

function notFound(id: string): AppError {
  return new AppError('NOT_FOUND', `File "${id}" doesn't exist.`);
}
