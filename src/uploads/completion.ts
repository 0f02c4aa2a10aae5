import { AppError } from '../errors/app-error';
import { HEAD_BYTES } from '../files/inspect';
import { learnStored, recordNewFile, recordReplacement, requireFile } from '../files/service';
import { concat } from '../lib/bytes';
import { log } from '../lib/log';
import type { S3Client } from '../storage/s3-client';
import { assembleStep, type AssemblyLedger, headOfPartials, releasePartials } from './assembler';
import type { Holdings } from './holdings';
import type { PartWriter } from './part-writer';
import type { State } from './session-store';

/** A final upload's assembly runs in alarm steps of about this long, each part committed as it lands. */
const ASSEMBLY_STEP_MS = 30_000;
/** An assembly step that fails is tried again this many times (a storage hiccup) before the upload fails. */
const ASSEMBLY_ATTEMPTS = 3;

/** An upload whose bytes are all in: its object made whole, then its file record. */
export class Completion {
  constructor(
    private readonly holdings: Holdings,
    private readonly writer: PartWriter,
    /** Sets the upload's alarm (the next assembly step, or the background checksum). */
    private readonly alarmAt: (at: number) => Promise<void>,
  ) {}

  private get store() {
    return this.holdings.store;
  }

  /**
   * Completion: the staged bytes become the last part (or, when no part was sent, a single
   * PutObject); CompleteMultipartUpload; then the same file record as POST /files. Each step is
   * recorded as it succeeds and every step is safe to repeat, so a completion cut at any point (a
   * lost answer from storage, an evicted object) is finished by the next HEAD or PATCH without the
   * client resending a byte. A partial upload stops at its object; a final one assembles its object
   * from its partial uploads' and hashes it afterwards.
   */
  async complete(state: State, deadline = Number.POSITIVE_INFINITY): Promise<boolean> {
    const h = this.holdings;
    await this.writer.adoptLegacyTail(state);
    const client = h.client(state);
    if (!state.assembled) {
      if (state.concat !== 'final') await this.writer.assemble(state, client);
      else if (!(await this.assembleFinalStep(state, client, deadline))) return false;
      state.assembled = true;
      this.store.save(state);
    }
    // Staged pieces are gone once the object is whole, and so is what a cut staging write left
    // behind (a store may keep the bytes of a PUT cut in the middle).
    if (state.concat !== 'final') await client.deletePrefix(`${h.prefix()}staged-`).catch((error: Error) => h.leftOver(state, error));
    if (state.concat === 'partial') {
      // Kept for a final upload until the upload expires (the alarm then removes it).
      state.status = 'completed';
      this.store.save(state);
      return true;
    }
    if (state.checksum === undefined) {
      state.checksum = await this.writer.hash.checksum(state);
      this.store.save(state);
    }
    const deps = h.deps();
    const head = state.concat === 'final' ? ((await client.readBytes(state.key as string, { start: 0, end: Math.min(HEAD_BYTES, state.offset) })) ?? new Uint8Array(0)) : concat(this.store.headRows());
    const ingested = await learnStored(deps, client, { key: state.key as string, type: state.type as string, size: state.offset, checksum: state.checksum, head });
    const fields = { ...(state.fields as Parameters<typeof recordNewFile>[4]) };
    // The folder was checked when the upload was created; deleted since, the file lands at the root,
    // as the files already in it did.
    if (fields.folder && !(await deps.repo.folderExists(fields.folder))) fields.folder = null;
    const row = state.replaces
      ? await recordReplacement(deps, client, await requireFile(deps, state.fileId), ingested, fields)
      : await recordNewFile(deps, client, state.fileId, ingested, fields, state.uploadedBy);
    state.fileId = row.id;
    if (state.partials) await releasePartials(h.partial, h.claimant(state), state.partials, true);
    if (state.checksum === null) state.hashing = { hash: undefined };
    await h.end(state, 'completed', state.expiresAt);
    if (state.hashing) await this.alarmAt(Date.now());
    return true;
  }

  /**
   * One step of a final upload's assembly, in its alarm: parts are copied until ASSEMBLY_STEP_MS has
   * passed, then the next alarm goes on from the last part recorded (an eviction resumes the same
   * way). A step that fails is retried a few times, then the upload fails: what it wrote goes, its
   * partial uploads are released for another try, and HEAD answers the error.
   */
  async assemblyStep(state: State): Promise<void> {
    try {
      // Alive while it assembles: its expiry (and, once done, how long HEAD still answers with the
      // file id) runs from the latest step, not from its creation, however long the assembly takes.
      state.expiresAt = Date.now() + state.expirationMs;
      if (!(await this.complete(state, Date.now() + ASSEMBLY_STEP_MS))) {
        // A step that made progress starts the count of failed attempts again.
        state.assemblyFailures = 0;
        this.store.save(state);
        await this.alarmAt(Date.now());
      }
    } catch (error) {
      const failures = (state.assemblyFailures ?? 0) + 1;
      const failure = error instanceof AppError ? error : new AppError('STORAGE_ERROR', 'The final upload could not be assembled from its partial uploads.');
      log('warn', 'final upload: assembly step failed', { upload: this.holdings.id, attempt: failures, error: String(error) });
      // A file already recorded is not undone by what failed after it (its checksum's alarm, say).
      if (state.status === 'completed') return;
      if (state.status !== 'active') return void (await this.holdings.discard(state, 'failed', failure));
      if (failures < ASSEMBLY_ATTEMPTS) {
        state.assemblyFailures = failures;
        this.store.save(state);
        return void (await this.alarmAt(Date.now() + 1000 * 2 ** failures));
      }
      await this.holdings.discard(state, 'failed', failure);
    }
  }

  /** A final upload's object, as far as `deadline` allows (see assembleStep): true once complete. */
  private async assembleFinalStep(state: State, client: S3Client, deadline: number): Promise<boolean> {
    const partials = state.partials ?? [];
    if (!state.key) await this.holdings.ensureKnown(state, await headOfPartials(client, partials, Math.min(HEAD_BYTES, state.offset)));
    const assembly = { key: state.key as string, type: state.type as string, partials, length: state.offset, partSize: state.partSize, copyParts: state.copyParts !== false };
    return assembleStep(client, assembly, this.ledger(state), deadline);
  }

  /** The ledger of a final upload's assembly: its parts table, multipart upload and lease. */
  private ledger(state: State): AssemblyLedger {
    return {
      parts: () => this.store.parts(),
      record: (p) => this.store.recordPart(p),
      uploadId: () => this.holdings.multipartUpload(state),
      holdLease: () => this.holdings.holdLease(state),
      copyRefused: () => {
        state.copyParts = false;
        this.store.save(state);
      },
      startedAt: () => state.s3StartedAt ?? 0,
    };
  }
}
