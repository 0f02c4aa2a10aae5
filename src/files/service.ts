import type { Config } from '../config';
import type { FilesRepository } from '../db/files-repository';
import { leaseRenewal, type LiveUploadsRepository } from '../db/live-uploads-repository';
import type { FileRow, NewFileRow } from '../db/schema';
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
import { type ChosenKey, chooseKey } from './naming';
import { initialThumbhash, placeholderLater } from './placeholder';
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
  /** The client's file name; it becomes `filename_download`, and a storage key only as naming.ts makes it safe. */
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

/** Bytes just stored under a key that is claimed until their record points to it. */
type Claimed = Ingested & Pick<ChosenKey, 'release'>;

/** A private hash: 128 random bits, URL-safe base64 (22 characters), never shaped like an id. */
export function newPrivateHash(): string {
  return randomToken(16);
}

/**
 * Stores the bytes of `file` under the key chooseKey gives for file `id`, learning everything about
 * them on the way, with one read: the head is peeked to sniff the real type (refused before anything
 * is stored when the allow-list says no), the body streams to the key (bounded memory, equal parts)
 * through a SHA-256 tap, and the metadata is scraped from the head (plus one Range read if it runs
 * longer). The key comes from the id, or the name made safe (naming.ts), and the sniffed extension:
 * `../../x` cannot escape the root. If anything fails, whatever was written is deleted again.
 */
async function ingest(deps: FilesDeps, client: S3Client, id: string, replaces: boolean, file: IncomingFile): Promise<Claimed> {
  const { files } = deps.config;
  const { head, stream } = await peek(file.stream, HEAD_BYTES);
  const { type, ext, typeExt } = await detectType(head, file.declaredType, file.filename);
  try {
    assertTypeAllowed(type, files.mimeTypeAllowList);
  } catch (error) {
    await stream.cancel().catch(() => {});
    throw error;
  }
  const chosen = await chooseKey(deps.repo, client, { id, ext, typeExt, filename: file.filename, replaces });
  const { key } = chosen;
  const digest = new crypto.DigestStream('SHA-256');
  // The delete also covers a write whose last answer was lost: the object may exist all the same.
  return removedOnFailure(client, chosen, async () => {
    const { size } = await writeStream(client, key, stream.pipeThrough(teeTo(digest)), {
      partSize: Math.min(client.location.tusChunkSize, MAX_BUFFERED_PART),
      contentType: type,
      track: trackWrite(deps, client, key),
      ...(files.maxUploadSize === undefined ? {} : { maxSize: files.maxUploadSize }),
    });
    const stored = await learnStored(deps, client, { key, type, size, checksum: hex(await digest.digest), head });
    return { ...stored, release: chosen.release };
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
 * Runs `step` on bytes just written to `key`; if it fails, the object is deleted (and then its key's
 * claim ends) before the error goes on, so a failed upload, import or replacement leaves nothing
 * behind. A delete that fails too leaves an object no record points to (its claim expiring marks a
 * named key as ours), which the sweep removes after its grace period.
 */
async function removedOnFailure<T>(client: S3Client, { key, release }: Pick<ChosenKey, 'key' | 'release'>, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    await client.deleteObject(key).then(
      () => release().catch(() => {}),
      (cause: Error) => log('warn', 'orphan left for the sweep', { storage: client.location.name, key, reason: cause.message }),
    );
    throw error;
  }
}

/** Ends the claim of a key its record now points to; a claim left over just expires (the sweep drops it). */
async function released(claimed: Claimed, row: FileRow): Promise<FileRow> {
  await claimed.release().catch((error: Error) => log('warn', 'key claim left to expire', { file: row.id, key: claimed.key, reason: error.message }));
  return row;
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
    thumbhash: initialThumbhash(ingested.type),
    width: scraped.width ?? null,
    height: scraped.height ?? null,
    duration: scraped.duration ?? null,
    description: fields.description ?? scrapedIfValid('description', scraped.description) ?? null,
    tags: fields.tags ?? scrapedIfValid('tags', scraped.tags) ?? null,
    location: fields.location ?? scrapedIfValid('location', scraped.location) ?? null,
    metadata: fields.metadata ?? scrapedIfValid('metadata', scraped.metadata) ?? null,
  };
}

/** What an embed's record says that its bytes (the provider's thumbnail) do not. */
export type EmbedColumns = Required<Pick<NewFileRow, 'type' | 'embed' | 'duration'>>;

/** Creates a file: bytes to `<id>.<ext>` (or the name's key, see naming.ts) in the chosen (or default) location, then the record. */
export async function createFile(
  deps: FilesDeps,
  file: IncomingFile,
  fields: Partial<FileFieldsPatch>,
  options: { storage?: string; uploadedBy?: string | null; embed?: EmbedColumns } = {},
): Promise<FileRow> {
  await assertFolder(deps, fields);
  const client = storageFor(deps.config, options.storage);
  const id = crypto.randomUUID();
  const ingested = await ingest(deps, client, id, false, file);
  const filenameDownload = fields.filenameDownload ?? file.filename;
  return released(ingested, await removedOnFailure(client, ingested, () => recordNewFile(deps, client, id, ingested, { ...fields, filenameDownload }, options.uploadedBy, options.embed)));
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
  embed?: EmbedColumns,
): Promise<FileRow> {
  // A name that came with the bytes (a part's file name, TUS `filename`, an imported URL) was not
  // checked as a field: it is cleaned here, where every new record is written.
  const filenameDownload = cleanName(fields.filenameDownload) || 'file';
  const now = new Date().toISOString();
  return withPlaceholder(await emitted('files.upload', await deps.repo.insertOnce({
    ...fields,
    ...learned(ingested, fields),
    ...embed,
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
  })));
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
  const existing = await requireCurrentFile(deps, id);
  const client = storageFor(deps.config, existing.storage);
  const ingested = await ingest(deps, client, id, true, file);
  // The new bytes bring their own name unless the form sets one (Directus): `?download` of a PNG
  // that replaced sunset.jpg is not named sunset.jpg.
  const named = { ...fields, filenameDownload: fields.filenameDownload ?? file.filename };
  return released(ingested, await removedOnFailure(client, ingested, () => recordReplacement(deps, client, existing, ingested, named)));
}

/**
 * Moves a file's record on to new bytes already stored, in one update, if it still has the bytes it
 * had when read (else 409: a rename or another replacement came first): until it lands the file is
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
    // New bytes make an embed a plain file: its type and duration are the new bytes' now.
    { ...fields, ...(filenameDownload === undefined ? {} : { filenameDownload }), ...fromBytes, embed: null, uploadedOn: now, modifiedOn: now },
    {
      ...(given(fields.description) ? {} : { description }),
      ...(given(fields.tags) ? {} : { tags }),
      ...(given(fields.location) ? {} : { location }),
    },
    existing.filenameDisk,
  );
  if (!updated) throw (await deps.repo.get(id)) ? changedMeanwhile(id) : notFound(id);
  await deps.repo.forgetDerivatives(id);
  try {
    await client.deletePrefix(derivativesPrefix(id));
    if (existing.filenameDisk && existing.filenameDisk !== ingested.key) await client.deleteObject(existing.filenameDisk);
  } catch (error) {
    log('warn', 'replaced bytes left for the sweep', { file: id, storage: client.location.name, reason: (error as Error).message });
  }
  return withPlaceholder(await emitted('files.upload', updated));
}

/** New bytes are recorded: their placeholder is made after the answer (placeholder.ts). */
function withPlaceholder(row: FileRow): FileRow {
  placeholderLater(row);
  return row;
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

/** A file as the primary has it, for a change that switches its key (a replica may be behind). */
export async function requireCurrentFile(deps: FilesDeps, id: string): Promise<FileRow> {
  const row = isUuid(id) ? await (deps.primary ?? deps.repo).get(id) : undefined;
  if (!row) throw notFound(id);
  return row;
}

export function isUuid(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
}

/** A switch of a file's key that lost to another (a rename, a replacement) since the file was read. */
export function changedMeanwhile(id: string): AppError {
  return new AppError('CONFLICT', `File "${id}" was renamed or replaced while this change ran; nothing of this change was kept: read the file and send it again.`);
}

function notFound(id: string): AppError {
  return new AppError('NOT_FOUND', `File "${id}" doesn't exist.`);
}
