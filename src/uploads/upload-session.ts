import { DurableObject } from 'cloudflare:workers';
import { getConfig } from '../config';
import type { Bindings } from '../env';
import { AppError } from '../errors/app-error';
import { parseFileFields } from '../files/fields';
import { assertTypeAllowed } from '../files/inspect';
import { wellFormedType } from '../files/media-type';
import { assertFolder, requireFile } from '../files/service';
import { log } from '../lib/log';
import { storageFor } from '../storage';
import { partSizeFor } from '../storage/parts';
import { claimPartials, type PartialInfo, releasePartials } from './assembler';
import { hashRun } from './checksum';
import { Completion } from './completion';
import { Holdings } from './holdings';
import { PartWriter } from './part-writer';
import { type AppendInput, type CreateInput, SessionStore, type State, type UploadInfo } from './session-store';
import { type Outcome, refusal, tusError } from './tus-protocol';

export { UPLOADS_PREFIX } from './holdings';

/**
 * One TUS upload (tus.io 1.0.0): the session's state and the protocol. Requests for the upload are
 * serialized here; a second PATCH while one runs gets 423 at once. The rooms it hands work to: the
 * part writer (PATCH bodies into parts, part-writer.ts), the completion (the object, then the
 * record, completion.ts, with assembler.ts for concatenation), the checksums (checksum.ts), what the
 * upload holds in storage (holdings.ts) and its SQLite rows (session-store.ts).
 */
export class UploadSession extends DurableObject<Bindings> {
  private busy = false;
  private readonly store: SessionStore;
  private readonly holdings: Holdings;
  private readonly writer: PartWriter;
  private readonly completion: Completion;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.store = new SessionStore(ctx.storage);
    this.holdings = new Holdings(ctx, env, this.store);
    this.writer = new PartWriter(this.holdings);
    this.completion = new Completion(this.holdings, this.writer, (at) => ctx.storage.setAlarm(at));
  }

  async create(input: CreateInput): Promise<Outcome<UploadInfo>> {
    try {
      if (this.store.load()) throw tusError(409, 'This upload already exists.');
      const config = getConfig(this.env);
      const m = input.metadata;
      const filename = m.filename ?? m.name ?? m.filename_download ?? 'upload';
      // A malformed declared type is dropped (the sniffed type decides), never stored.
      const declaredType = wellFormedType(m.filetype ?? m.type);
      const form: Record<string, unknown> = {};
      for (const k of ['title', 'description', 'tags', 'filename_download', 'folder', 'location', 'metadata', 'access']) if (m[k] !== undefined) form[k] = m[k];
      const { fields } = parseFileFields(form, { allowStorage: false, fromForm: true });
      const partial = input.concat !== undefined && 'partial' in input.concat;
      if (!partial) await assertFolder(this.holdings.deps(), fields);
      if (declaredType && !partial) assertTypeAllowed(declaredType, config.files.mimeTypeAllowList);

      let fileId: string = crypto.randomUUID();
      let storage = m.storage;
      const replaces = m.id !== undefined && !partial;
      if (replaces) {
        const existing = await requireFile(this.holdings.deps(), m.id as string);
        fileId = existing.id;
        if (storage !== undefined && storage !== existing.storage) throw tusError(400, '"storage" cannot change when replacing a file.');
        storage = existing.storage;
      }
      const client = storageFor(config, storage);
      const claimant = { owner: input.owner, finalId: this.holdings.id };
      const final = input.concat !== undefined && 'final' in input.concat ? await claimPartials(this.holdings.partial, claimant, client.location.name, input.concat.final) : undefined;
      const length = final ? final.reduce((n, p) => n + p.size, 0) : input.length;
      if (final && input.maxSize !== undefined && (length ?? 0) > input.maxSize) {
        await releasePartials(this.holdings.partial, claimant, final, false);
        throw tusError(413, `The concatenated upload (${length} bytes) is over Tus-Max-Size ${input.maxSize} (TUS_MAX_SIZE, FILES_MAX_UPLOAD_SIZE); nothing was copied.`);
      }
      const now = Date.now();
      const state: State = {
        owner: input.owner,
        status: 'active',
        length,
        maxSize: input.maxSize,
        offset: final ? (length ?? 0) : 0,
        partSize: partSizeFor(client.location.tusChunkSize, length),
        storage: client.location.name,
        metadataHeader: input.metadataHeader,
        filename,
        declaredType,
        fields: { ...fields, filenameDownload: fields.filenameDownload ?? filename },
        fileId,
        replaces,
        uploadedBy: input.uploadedBy,
        type: partial ? 'application/octet-stream' : undefined,
        key: partial ? `${this.holdings.prefix()}object` : undefined,
        s3UploadId: undefined,
        ...(partial ? { concat: 'partial' as const, concatHeader: 'partial' } : {}),
        ...(final && input.concat && 'header' in input.concat ? { concat: 'final' as const, concatHeader: input.concat.header, partials: final } : {}),
        expirationMs: input.expirationMs,
        expiresAt: now + input.expirationMs,
        forgetAt: undefined,
      };
      this.store.save(state);
      // A final upload is assembled by its alarm, however many partial uploads it names: the POST answers at once.
      await this.ctx.storage.setAlarm(final ? now : state.expiresAt);
      if (!final && state.length === state.offset) await this.completion.complete(state);
      return { ok: true, value: this.info(state, state.status === 'completed') };
    } catch (error) {
      return this.failure(error);
    }
  }

  /** HEAD: the offset. A finished upload whose completion failed before is completed now. */
  async head(owner: string): Promise<Outcome<UploadInfo>> {
    try {
      const state = this.current(owner);
      if (state.status === 'active' && state.concat !== 'final' && state.length !== undefined && state.offset === state.length && !this.busy) {
        this.busy = true;
        try {
          await this.completion.complete(state);
        } finally {
          this.busy = false;
        }
        return { ok: true, value: this.info(state, true) };
      }
      return { ok: true, value: this.info(state) };
    } catch (error) {
      return this.failure(error);
    }
  }

  async append(input: AppendInput, body: ReadableStream<Uint8Array> | null): Promise<Outcome<UploadInfo>> {
    if (this.busy) {
      await refuseBody(body, input.contentLength);
      return refusal(tusError(423, 'Another request for this upload is in progress; retry when it has finished.'));
    }
    let outcome: Outcome<UploadInfo>;
    this.busy = true;
    try {
      const state = this.current(input.owner);
      if (state.concat === 'final') throw tusError(403, 'A final upload is made of its partial uploads and takes no PATCH.');
      if (state.status === 'completed') {
        if (input.offset === state.offset && (input.contentLength ?? 0) === 0) return { ok: true, value: this.info(state) };
        throw tusError(409, 'This upload is complete.');
      }
      const expected = this.writer.offset(state);
      // A client resuming from the committed offset (its HEAD came before the part opened, or it
      // starts the part again) gives up the open part's bytes: they are sent again.
      if (input.offset === state.offset && expected !== state.offset) this.writer.dropOpenPart('the client sent its part again');
      else if (input.offset !== expected) throw tusError(409, `Upload-Offset ${input.offset} does not match the server's offset ${expected}.`);
      if (input.length !== undefined) this.declareLength(state, input.length);
      const limit = state.length ?? state.maxSize;
      if (limit !== undefined && input.contentLength !== undefined && this.writer.offset(state) + input.contentLength > limit) {
        throw tusError(413, `This request would pass the upload's ${state.length !== undefined ? 'length' : 'maximum size'} of ${limit} bytes.`);
      }
      if (body) await this.writer.receive(state, input, body);
      if (state.length !== undefined && state.offset === state.length) {
        await this.completion.complete(state);
        return { ok: true, value: this.info(state, true) };
      }
      return { ok: true, value: this.info(state) };
    } catch (error) {
      outcome = this.failure(error);
    } finally {
      this.busy = false;
    }
    // A body refused before it was read (a wrong offset, say) is read to its end, outside the lock.
    if (body && !body.locked) await refuseBody(body, input.contentLength);
    else await body?.cancel().catch(() => {});
    return outcome;
  }

  /** DELETE (termination): the multipart upload is aborted and staged bytes dropped at once. */
  async terminate(owner: string): Promise<Outcome<null>> {
    try {
      const state = this.current(owner);
      if (state.status === 'completed' && state.concat !== 'partial') throw tusError(409, 'A completed upload cannot be terminated; delete the file instead.');
      if (state.concat === 'final') throw tusError(409, 'A final upload is being assembled; HEAD tells when it has finished.');
      if (state.claimedBy) throw tusError(409, 'A final upload is being assembled from this partial upload; it is used up once that has finished.');
      this.writer.dropOpenPart('the upload was terminated');
      await this.holdings.discard(state, 'terminated');
      return { ok: true, value: null };
    } catch (error) {
      return this.failure(error);
    }
  }

  /**
   * For final upload `finalId` being created: claims this completed partial upload and answers its
   * object. The check and the claim are one step of this object's single thread (no await between),
   * so of concurrent finals naming it exactly one wins; the others get 409 (410 once it is used up).
   * Claiming again for the same final is harmless.
   */
  async claimPartial(owner: string, finalId: string): Promise<Outcome<PartialInfo>> {
    try {
      const state = this.current(owner);
      if (state.concat !== 'partial') throw tusError(400, 'Upload-Concat: final may only list partial uploads.');
      if (state.status !== 'completed' || !state.assembled) throw tusError(400, 'A partial upload in Upload-Concat is not complete yet; finish it first.');
      // Past its expiry its object may be being deleted by the alarm at this very moment.
      if (state.claimedBy === undefined && Date.now() >= state.expiresAt) throw tusError(410, 'A partial upload in Upload-Concat has expired.');
      if (state.claimedBy !== undefined && state.claimedBy !== finalId) throw tusError(409, 'A partial upload in Upload-Concat is already used by another final upload.');
      state.claimedBy = finalId;
      this.store.save(state);
      return { ok: true, value: { id: this.holdings.id, storage: state.storage, key: state.key as string, size: state.offset } };
    } catch (error) {
      return this.failure(error);
    }
  }

  /**
   * Final upload `finalId` is done with this partial upload: `used`, its object goes now rather than
   * at expiry; otherwise (the final failed) the claim is dropped and the partial may be used again.
   */
  async releasePartial(owner: string, finalId: string, used: boolean): Promise<void> {
    const state = this.store.load();
    if (state?.owner !== owner || state.concat !== 'partial' || state.status !== 'completed' || state.claimedBy !== finalId) return;
    delete state.claimedBy;
    if (!used) return void this.store.save(state);
    await this.holdings.client(state).deletePrefix(this.holdings.prefix()).catch((error: Error) => this.holdings.leftOver(state, error));
    await this.holdings.end(state, 'terminated', Date.now() + state.expirationMs);
  }

  /**
   * Expiry: aborts what an idle upload holds (and a partial upload's object once no final upload
   * took it); later, forgets a finished one entirely. Also makes a checksum in the background (a final upload's, or one whose running hash lost the thread).
   */
  override async alarm(): Promise<void> {
    const state = this.store.load();
    if (!state) return;
    const now = Date.now();
    if (state.hashing) return this.hashInBackground(state);
    if (state.concat === 'final' && state.status === 'active') return this.completion.assemblyStep(state);
    if (state.claimedBy && state.status === 'completed') {
      // A final upload is reading this partial upload: kept (and leased) until it releases it.
      await this.holdings.holdLease(state);
      return void (await this.ctx.storage.setAlarm(now + state.expirationMs));
    }
    if (state.status === 'active' || (state.concat === 'partial' && state.status === 'completed')) {
      if (now < state.expiresAt) return void (await this.ctx.storage.setAlarm(state.expiresAt));
      this.writer.dropOpenPart('the upload expired');
      await this.holdings.discard(state, 'expired');
      return;
    }
    if (state.forgetAt !== undefined && now >= state.forgetAt) {
      await this.ctx.storage.deleteAlarm();
      await this.ctx.storage.deleteAll();
      return;
    }
    if (state.forgetAt !== undefined) await this.ctx.storage.setAlarm(state.forgetAt);
  }


  /** Upload-Length arriving for a deferred upload: set once, never below what is stored. */
  private declareLength(state: State, length: number): void {
    if (state.length !== undefined) {
      if (state.length !== length) throw tusError(400, `Upload-Length is already ${state.length}.`);
      return;
    }
    if (length < state.offset) throw tusError(400, `Upload-Length ${length} is less than the ${state.offset} bytes already received.`);
    if (state.maxSize !== undefined && length > state.maxSize) throw tusError(413, `Upload-Length ${length} is over Tus-Max-Size ${state.maxSize}.`);
    state.length = length;
    this.store.save(state);
  }

  /**
   * A checksum made after the record exists: the object is read in ranges, the hash state
   * saved after each, and the work handed to a new alarm every run, so an eviction or a terabyte
   * costs no restart. The record shows the checksum once it is known (unless its bytes were replaced
   * meanwhile).
   */
  private async hashInBackground(state: State): Promise<void> {
    const checksum = await hashRun(this.holdings.client(state), state, (hash) => {
      state.hashing = { hash };
      this.store.save(state);
    });
    if (checksum === undefined) return void (await this.ctx.storage.setAlarm(Date.now()));
    const repo = this.holdings.deps().repo;
    const row = await repo.get(state.fileId);
    if (row?.filenameDisk === state.key) await repo.update(state.fileId, { checksum });
    state.checksum = checksum;
    delete state.hashing;
    this.store.save(state);
    await this.ctx.storage.setAlarm(state.forgetAt ?? Date.now());
  }

  /** The committed state for `owner`: 404 for an unknown upload or another token's, 410 once ended. */
  private current(owner: string): State {
    const state = this.store.load();
    if (!state || state.owner !== owner) throw tusError(404, 'Upload not found.');
    if (state.status === 'failed') throw new AppError(state.failure?.code ?? 'INTERNAL', `This final upload failed: ${state.failure?.message ?? 'its assembly did not finish'}`);
    if (state.status === 'terminated' || state.status === 'expired') throw tusError(410, `This upload was ${state.status}.`);
    if (state.status === 'active' && Date.now() >= state.expiresAt) throw tusError(410, 'This upload expired.');
    return state;
  }

  private info(state: State, completedNow = false): UploadInfo {
    return {
      offset: state.concat === 'final' && state.status !== 'completed' ? undefined : this.writer.offset(state),
      length: state.length,
      metadataHeader: state.metadataHeader,
      expiresAt: state.expiresAt,
      fileId: state.status === 'completed' && state.concat !== 'partial' ? state.fileId : undefined,
      replaced: completedNow && state.replaces,
      ...(state.concatHeader ? { concat: state.concatHeader } : {}),
    };
  }


  private failure(error: unknown): Outcome<never> {
    if (error instanceof AppError) return refusal(error);
    log('error', 'upload session: unexpected error', { upload: this.holdings.id, error: String(error) });
    return refusal(new AppError('INTERNAL', 'The upload failed unexpectedly; HEAD tells how much was stored.'));
  }
}

/** Bodies up to the smallest plans' request cap are read to their end before a refusal is answered. */
const DRAIN_LIMIT = 100 * 1000 * 1000;

/**
 * Disposes of the body of a PATCH that is refused unread (423, 409…). Answering while the client is
 * still sending resets its connection (and `wrangler dev` turns the reset into a 500), so a body the
 * platform would accept anyway is read to its end first; a larger or unsized one is cancelled.
 */
async function refuseBody(body: ReadableStream<Uint8Array> | null, contentLength: number | undefined): Promise<void> {
  if (!body) return;
  if (contentLength === undefined || contentLength > DRAIN_LIMIT) return void (await body.cancel().catch(() => {}));
  await body.pipeTo(new WritableStream()).catch(() => {});
}
