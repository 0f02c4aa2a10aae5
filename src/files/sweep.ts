import type { FilesRepository } from '../db/files-repository';
import type { LiveUploadsRepository } from '../db/live-uploads-repository';
import type { SweepPhase, SweepPosition, SweepRepository } from '../db/sweep-repository';
import { AppError } from '../errors/app-error';
import type { S3Client } from '../storage/s3-client';
import { UPLOADS_PREFIX } from '../uploads/upload-session';
import { derivativesPrefix } from './service';

/**
 * The top-level keys this service writes: originals, `<id>[.<8 hex>][.<ext>]`. Nothing else in the
 * bucket is ever touched, so a bucket (or ROOT) shared with other software keeps its objects.
 */
const OWN_KEY = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(\.[0-9a-f]{8})?(\.[A-Za-z0-9]+)?$/;
const GENERATED = /^generated\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/$/;
/** A TUS upload's folder (staged bytes, a partial upload's object), and the keys in it. */
const UPLOAD_FOLDER = new RegExp(`^${UPLOADS_PREFIX}([0-9a-f]{64})/$`);
const UPLOAD_KEY = new RegExp(`^${UPLOADS_PREFIX}[0-9a-f]{64}/`);
const PHASES: SweepPhase[] = ['objects', 'generated', 'uploads', 'multipart'];

export interface SweepDeps {
  files: FilesRepository;
  live: LiveUploadsRepository;
  positions: SweepRepository;
}

export interface SweepOptions {
  /** This server's clock, Date.now() (tests pass a later one to stand for time passing); never a time a caller supplies. */
  now: number;
  /** Objects and multipart uploads younger than this are left alone (STORAGE_SWEEP_GRACE). */
  graceMs: number;
  /** Listing pages one run may read; the next run goes on from there. */
  maxPages: number;
  /** Entries a listing page asks for (S3's maximum, 1000, unless said otherwise). */
  pageSize?: number;
}

/** What one run did in one storage location: the structured log line an operator reads. */
export interface SweepReport {
  storage: string;
  phases: SweepPhase[];
  listed: number;
  removedObjects: string[];
  removedDerivativesOf: string[];
  abortedUploads: { key: string; uploadId: string }[];
  skipped: string[];
  /** A whole pass over the location ended in this run (the next run starts a new one). */
  passEnded: boolean;
}

interface PageResult {
  listed: number;
  next: SweepPosition['cursor'] | undefined;
}

/**
 * Removes what failures left in one storage location, and nothing else:
 * - `objects`: originals no file record points to and no live upload holds, older than the grace
 *   (a key made of a name counts only if it was claimed, and its expired claim goes with it);
 * - `generated`: the derivatives prefixes of files that no longer exist;
 * - `uploads`: the folders of TUS uploads that are no longer live (staged bytes, partial uploads'
 *   objects their upload could not delete), older than the grace;
 * - `multipart`: multipart uploads no live upload owns (the record of live uploads, never their
 *   age, says which are live), older than the grace.
 * Each page is listed, looked up in D1 in batches and cleaned before the position is saved, so a
 * run stopped anywhere goes on from its last page, and a large bucket is swept over several runs.
 */
export async function sweepLocation(deps: SweepDeps, client: S3Client, options: SweepOptions): Promise<SweepReport> {
  const storage = client.location.name;
  const report: SweepReport = { storage, phases: [], listed: 0, removedObjects: [], removedDerivativesOf: [], abortedUploads: [], skipped: [], passEnded: false };
  let position = await deps.positions.position(storage);
  for (let page = 0; page < options.maxPages; page++) {
    if (!report.phases.includes(position.phase)) report.phases.push(position.phase);
    const result = await sweepPage(deps, client, position, options, report);
    report.listed += result.listed;
    if (result.next) {
      position = { phase: position.phase, cursor: result.next };
    } else {
      const phase = PHASES[PHASES.indexOf(position.phase) + 1];
      position = { phase: phase ?? 'objects', cursor: undefined };
      report.passEnded = phase === undefined;
    }
    await deps.positions.save(storage, position);
    if (report.passEnded) break;
  }
  return report;
}

function sweepPage(deps: SweepDeps, client: S3Client, position: SweepPosition, options: SweepOptions, report: SweepReport): Promise<PageResult> {
  switch (position.phase) {
    case 'objects':
      return sweepObjects(deps, client, position.cursor?.token, options, report);
    case 'generated':
      return sweepGenerated(deps, client, position.cursor?.token, options, report);
    case 'uploads':
      return sweepUploads(deps, client, position.cursor?.token, options, report);
    case 'multipart':
      return sweepMultipart(deps, client, position.cursor, options, report);
  }
}

async function sweepObjects(deps: SweepDeps, client: S3Client, token: string | undefined, o: SweepOptions, report: SweepReport): Promise<PageResult> {
  const storage = client.location.name;
  // With a delimiter, `generated/` and any folder of other software are one entry each, never walked.
  const page = await client.listObjects({ delimiter: '/', maxKeys: o.pageSize ?? 1000, ...(token ? { continuationToken: token } : {}) });
  const old = page.objects.filter((obj) => (obj.lastModified?.getTime() ?? o.now) < o.now - o.graceMs).map((obj) => obj.key);
  // A key made of a name (File Naming `original`, a rename) is ours when it was claimed (naming.ts).
  const named = old.filter((k) => !OWN_KEY.test(k));
  const claimed = named.length > 0 ? await deps.files.claimedKeys(storage, named) : new Set<string>();
  const keys = old.filter((k) => OWN_KEY.test(k) || claimed.has(k));
  const referenced = await deps.files.referencedKeys(storage, keys);
  const held = await deps.live.heldKeys(storage, keys, o.now);
  const orphans = keys.filter((k) => !referenced.has(k) && !held.has(k));
  if (orphans.length > 0) await client.deleteObjects(orphans);
  report.removedObjects.push(...orphans);
  await deps.files.dropExpiredClaims(storage, [...claimed], o.now);
  return { listed: page.objects.length, next: page.nextContinuationToken ? { token: page.nextContinuationToken } : undefined };
}

async function sweepGenerated(deps: SweepDeps, client: S3Client, token: string | undefined, o: SweepOptions, report: SweepReport): Promise<PageResult> {
  const page = await client.listObjects({ prefix: 'generated/', delimiter: '/', maxKeys: o.pageSize ?? 1000, ...(token ? { continuationToken: token } : {}) });
  const ids = page.commonPrefixes.map((p) => GENERATED.exec(p)?.[1]).filter((id): id is string => id !== undefined);
  const existing = await deps.files.existingIds(ids);
  for (const id of ids.filter((i) => !existing.has(i))) {
    await client.deletePrefix(derivativesPrefix(id));
    report.removedDerivativesOf.push(id);
  }
  return { listed: page.commonPrefixes.length, next: page.nextContinuationToken ? { token: page.nextContinuationToken } : undefined };
}

async function sweepUploads(deps: SweepDeps, client: S3Client, token: string | undefined, o: SweepOptions, report: SweepReport): Promise<PageResult> {
  const page = await client.listObjects({ prefix: UPLOADS_PREFIX, delimiter: '/', maxKeys: o.pageSize ?? 1000, ...(token ? { continuationToken: token } : {}) });
  const ids = page.commonPrefixes.map((p) => UPLOAD_FOLDER.exec(p)?.[1]).filter((id): id is string => id !== undefined);
  const live = await deps.live.liveIds(ids, o.now);
  for (const id of ids.filter((i) => !live.has(i))) {
    const old: string[] = [];
    for await (const obj of client.listAll(`${UPLOADS_PREFIX}${id}/`)) if ((obj.lastModified?.getTime() ?? o.now) < o.now - o.graceMs) old.push(obj.key);
    if (old.length > 0) await client.deleteObjects(old);
    report.removedObjects.push(...old);
  }
  return { listed: page.commonPrefixes.length, next: page.nextContinuationToken ? { token: page.nextContinuationToken } : undefined };
}

async function sweepMultipart(deps: SweepDeps, client: S3Client, cursor: SweepPosition['cursor'], o: SweepOptions, report: SweepReport): Promise<PageResult> {
  let page: Awaited<ReturnType<S3Client['listMultipartUploads']>>;
  try {
    page = await client.listMultipartUploads({
      ...(cursor?.keyMarker ? { keyMarker: cursor.keyMarker } : {}),
      ...(cursor?.uploadIdMarker ? { uploadIdMarker: cursor.uploadIdMarker } : {}),
    });
  } catch (error) {
    if (!(error instanceof AppError && error.extensions.s3Code === 'NotImplemented')) throw error;
    // s3rver: nothing to list. Stores with lifecycle rules can expire them too (see the README).
    report.skipped.push('multipart: this store does not list multipart uploads (NotImplemented)');
    return { listed: 0, next: undefined };
  }
  const old = page.uploads.filter((u) => (u.initiated?.getTime() ?? o.now) < o.now - o.graceMs);
  const named = old.map((u) => u.key).filter((k) => !OWN_KEY.test(k) && !UPLOAD_KEY.test(k));
  const claimed = named.length > 0 ? await deps.files.claimedKeys(client.location.name, named) : new Set<string>();
  const stale = old.filter((u) => OWN_KEY.test(u.key) || UPLOAD_KEY.test(u.key) || claimed.has(u.key));
  const owned = await deps.live.ownedUploadIds(client.location.name, stale.map((u) => u.uploadId), o.now);
  for (const u of stale.filter((s) => !owned.has(s.uploadId))) {
    await client.abortMultipartUpload(u.key, u.uploadId);
    report.abortedUploads.push({ key: u.key, uploadId: u.uploadId });
  }
  return { listed: page.uploads.length, next: page.next };
}
