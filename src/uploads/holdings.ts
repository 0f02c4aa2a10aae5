import { getConfig } from '../config';
import { FilesRepository } from '../db/files-repository';
import { leaseRenewal, LiveUploadsRepository } from '../db/live-uploads-repository';
import type { Bindings } from '../env';
import type { AppError } from '../errors/app-error';
import { assertTypeAllowed, detectType, HEAD_BYTES } from '../files/inspect';
import { chooseKey } from '../files/naming';
import type { FilesDeps } from '../files/service';
import { log } from '../lib/log';
import { fileNaming } from '../settings/service';
import { storageFor } from '../storage';
import type { S3Client } from '../storage/s3-client';
import { type Claimant, type PartialUpload, releasePartials } from './assembler';
import type { SessionStore, State, UploadStatus } from './session-store';

/**
 * Staged bytes and partial uploads live under `uploads/<upload id>/` (see the README's lifecycle
 * rule), one level deep: s3rver's listings miss keys nested further under a common prefix.
 */
export const UPLOADS_PREFIX = 'uploads/';

/**
 * What one upload holds outside its Durable Object — its key, its multipart upload, its staged
 * bytes, its lease in the record of live uploads — and how it lets all of them go.
 */
export class Holdings {
  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Bindings,
    readonly store: SessionStore,
  ) {}

  get id(): string {
    return this.ctx.id.toString();
  }

  /** This upload's folder in the bucket: staged bytes, and a partial upload's object. */
  prefix(): string {
    return `${UPLOADS_PREFIX}${this.id}/`;
  }

  client(state: State): S3Client {
    return storageFor(getConfig(this.env), state.storage);
  }

  deps(): FilesDeps {
    return { config: getConfig(this.env), repo: new FilesRepository(this.env.DB), live: new LiveUploadsRepository(this.env.DB), fileNaming: () => fileNaming(this.env.DB) };
  }

  claimant(state: State): Claimant {
    return { owner: state.owner, finalId: this.id };
  }

  /** The partial upload `id` as its final upload sees it (this upload is the final). */
  partial = (id: string): PartialUpload => this.env.UPLOADS.get(this.env.UPLOADS.idFromString(id));

  /**
   * Keeps this upload in the record of live uploads (D1) while it holds anything in storage, so the
   * sweep leaves its multipart upload, key and staged bytes alone however long it runs. Written when
   * the lease would end within one expiration window: at most one D1 write per window of activity.
   * `force` writes at once (a new multipart upload id).
   */
  async holdLease(state: State, force = false): Promise<void> {
    const next = force ? Date.now() + 2 * state.expirationMs : leaseRenewal(state.leaseUntil, Date.now(), state.expirationMs);
    if (next === undefined) return;
    await this.deps().live.track({ id: this.id, storage: state.storage, key: state.key ?? this.prefix(), s3UploadId: state.s3UploadId ?? null, liveUntil: next });
    state.leaseUntil = next;
    this.store.save(state);
  }

  /** The first write under this upload's name: leased before it lands, so the sweep cannot take it. */
  async leaseFirstWrite(state: State): Promise<void> {
    await this.holdLease(state, state.leaseUntil === undefined);
  }

  /** The multipart upload of the original, created (and made durable, and leased) on first use. */
  async multipartUpload(state: State): Promise<string> {
    if (!state.s3UploadId) {
      state.s3StartedAt = Date.now();
      state.s3UploadId = await this.client(state).createMultipartUpload(state.key as string, { contentType: state.type as string });
      this.store.save(state); // durable at once, so that expiry can always abort it
      await this.holdLease(state, true);
    }
    return state.s3UploadId;
  }

  /**
   * The real type and the key, from the first bytes, before anything goes to the original's key. A
   * refused type ends the upload with 415 and nothing kept.
   */
  async ensureKnown(state: State, head: Uint8Array): Promise<void> {
    const { type, ext, typeExt } = await detectType(head.subarray(0, HEAD_BYTES), state.declaredType, state.filename);
    try {
      assertTypeAllowed(type, getConfig(this.env).files.mimeTypeAllowList);
    } catch (error) {
      await this.discard(state, 'terminated');
      throw error;
    }
    state.type = type;
    // The upload's own lease row holds a name-derived key (File Naming `original`) while it lives.
    const owner = { id: this.id, until: Date.now() + 2 * state.expirationMs };
    state.key = (await chooseKey(this.deps(), this.client(state), { id: state.fileId, ext, typeExt, filename: state.filename, replaces: state.replaces, owner })).key;
    this.store.save(state);
  }

  /** After a PATCH: the expiry moves on, and the lease with it. */
  async touch(state: State): Promise<void> {
    await this.ctx.storage.setAlarm(state.expiresAt);
    if (state.leaseUntil !== undefined) await this.holdLease(state);
  }

  /**
   * Ends an upload that will not complete: its multipart upload is aborted, its staged bytes (or a
   * partial upload's object) deleted, and an object it assembled but never recorded is deleted
   * (unless a record points to it after all). What cannot be removed now is left to the sweep, which
   * this upload no longer holds back. A final upload's partial uploads are released for another try.
   */
  async discard(state: State, status: 'terminated' | 'expired' | 'failed', failure?: AppError): Promise<void> {
    const client = this.client(state);
    const leftOver = (error: Error) => this.leftOver(state, error);
    if (state.s3UploadId && state.key) await client.abortMultipartUpload(state.key, state.s3UploadId).catch(leftOver);
    await client.deletePrefix(this.prefix()).catch(leftOver);
    if (state.assembled && state.key && state.concat !== 'partial') {
      const row = await this.deps().repo.get(state.fileId);
      if (row?.filenameDisk !== state.key) await client.deleteObject(state.key).catch(leftOver);
    }
    if (state.partials && state.status === 'active') await releasePartials(this.partial, this.claimant(state), state.partials, false);
    if (failure) state.failure = { code: failure.code, message: failure.message };
    await this.end(state, status, Date.now() + state.expirationMs);
  }

  /** An upload's last state: its parts and staged rows dropped, a tombstone kept until `forgetAt`. */
  async end(state: State, status: Exclude<UploadStatus, 'active'>, forgetAt: number): Promise<void> {
    state.status = status;
    state.s3UploadId = undefined;
    state.forgetAt = forgetAt;
    this.store.ended(state);
    await this.ctx.storage.setAlarm(forgetAt);
    // A lease that cannot be dropped now simply runs out.
    if (state.leaseUntil !== undefined) await this.deps().live.forget(this.id).catch(() => {});
  }

  leftOver(state: State, error: Error): void {
    log('warn', 'upload storage left for the sweep', { upload: this.id, key: state.key, reason: error.message });
  }
}
