import { AppError } from '../errors/app-error';
import type { S3Client, UploadedPart } from '../storage/s3-client';
import { joinStreams } from './byte-path';
import { type Outcome, refusal, tusError } from './tus-protocol';

/** Partial uploads are claimed (and released) this many at a time. */
const CLAIMS_AT_ONCE = 25;

/** What a final upload needs to know of one of its partial uploads. */
export interface PartialInfo {
  id: string;
  storage: string;
  key: string;
  size: number;
}

/** Bytes [start, end) of one object. */
export interface Range {
  key: string;
  start: number;
  end: number;
}

/** A final upload's object to be made from its partial uploads' objects, in order. */
export interface Assembly {
  key: string;
  type: string;
  partials: PartialInfo[];
  /** The sum of the partial uploads' sizes. */
  length: number;
  /** P: every part but the last is exactly this long (R2's rule). */
  partSize: number;
  /** False once the store showed it cannot UploadPartCopy: every part streams. */
  copyParts: boolean;
}

/**
 * What assembly needs from the upload that owns it. Each call makes its effect durable before it
 * returns, so an assembly cut anywhere resumes at the next part.
 */
export interface AssemblyLedger {
  /** The parts already in the multipart upload, in order. */
  parts(): UploadedPart[];
  record(part: UploadedPart): void;
  /** The multipart upload of `key`, created (and leased) on first use. */
  uploadId(): Promise<string>;
  /** Keeps the lease on the object being written (renewed when it nears its end). */
  holdLease(): Promise<void>;
  /** The store refused UploadPartCopy: remembered, so later parts stream at once. */
  copyRefused(): void;
  /** When the multipart upload was created (a completion with a lost answer is checked against it). */
  startedAt(): number;
}

/** What a partial upload answers to the final upload that uses it (RPCs of its Durable Object). */
export interface PartialUpload {
  claimPartial(owner: string, finalId: string): Promise<Outcome<PartialInfo>>;
  releasePartial(owner: string, finalId: string, used: boolean): Promise<void>;
}

/** The final upload claiming partial uploads, and its requester (the owner the partials must share). */
export interface Claimant {
  owner: string;
  finalId: string;
}

/**
 * Claims the completed partial uploads a final upload is made of, in order: the requester's own, in
 * `storage`, each unused (each partial claims itself in one step, so concurrent finals cannot share
 * one). On any refusal the ones already claimed are released and the refusal thrown: 409 for a
 * partial claimed by another final, 410 for one used up, 400 otherwise.
 */
export async function claimPartials(partial: (id: string) => PartialUpload, claimant: Claimant, storage: string, ids: string[]): Promise<PartialInfo[]> {
  const out: PartialInfo[] = [];
  for (let i = 0; i < ids.length; i += CLAIMS_AT_ONCE) {
    const batch = ids.slice(i, i + CLAIMS_AT_ONCE);
    const answers = await Promise.allSettled(
      batch.map((id): Promise<Outcome<PartialInfo>> => {
        try {
          return partial(id).claimPartial(claimant.owner, claimant.finalId);
        } catch {
          return Promise.resolve(refusal(tusError(400, `Upload-Concat names an upload that does not exist (${id.slice(0, 16)}…).`)));
        }
      }),
    );
    for (const a of answers) if (a.status === 'fulfilled' && a.value.ok) out.push(a.value.value);
    const lost = answers.findIndex((a) => a.status === 'rejected');
    if (lost !== -1) {
      // A call that failed (an object reset, an overloaded one) may have claimed before its answer
      // was lost: released too (a release by another final's claimant changes nothing), or it would
      // stay claimed by a final that does not exist.
      const unknown = batch.filter((_, j) => answers[j]?.status === 'rejected').map((id) => ({ id }));
      await releasePartials(partial, claimant, [...out, ...unknown], false);
      throw (answers[lost] as PromiseRejectedResult).reason;
    }
    const settled = answers.map((a) => (a as PromiseFulfilledResult<Outcome<PartialInfo>>).value);
    const refused = settled.find((a) => !a.ok) ?? (out.some((p) => p.storage !== storage) ? refusal(tusError(400, 'The partial uploads and the final upload must use the same storage location.')) : undefined);
    if (refused && !refused.ok) {
      await releasePartials(partial, claimant, out, false);
      const status = refused.code === 'UPLOAD_CONFLICT' ? 409 : refused.code === 'UPLOAD_GONE' ? 410 : 400;
      throw tusError(status, refused.message.startsWith('Upload-Concat') ? refused.message : `Upload-Concat: ${refused.message}`);
    }
  }
  return out;
}

/** Releases a final upload's claims on `partials`: used up (their objects deleted), or free again. */
export async function releasePartials(partial: (id: string) => PartialUpload, claimant: Claimant, partials: Pick<PartialInfo, 'id'>[], used: boolean): Promise<void> {
  for (let i = 0; i < partials.length; i += CLAIMS_AT_ONCE) {
    await Promise.all(partials.slice(i, i + CLAIMS_AT_ONCE).map((p) => partial(p.id).releasePartial(claimant.owner, claimant.finalId, used)));
  }
}

/** The pieces of bytes [start, end) of the concatenation of `partials`, as ranges of their objects. */
export function rangesOf(partials: PartialInfo[], start: number, end: number): Range[] {
  const out: Range[] = [];
  let at = 0;
  for (const p of partials) {
    const from = Math.max(start, at);
    const to = Math.min(end, at + p.size);
    if (from < to) out.push({ key: p.key, start: from - at, end: to - at });
    at += p.size;
  }
  return out;
}

export async function readRange(client: S3Client, range: Range): Promise<ReadableStream<Uint8Array>> {
  const read = await client.readObject(range.key, { start: range.start, end: range.end });
  if (!read) throw new AppError('STORAGE_ERROR', `Bytes of this upload are missing from storage location "${client.location.name}"; the upload cannot be completed.`);
  return read.body;
}

/** Ranges read one after the other as one stream (each opened only when the previous has ended). */
export function readRanges(client: S3Client, ranges: Range[]): ReadableStream<Uint8Array> {
  return joinStreams(ranges.map((r) => () => readRange(client, r)));
}

/**
 * Sends `ranges` as one body. A range that cannot be read fails the send, which storage reports as
 * a cut connection: the range's own error (the bytes are missing) is the one that stands.
 */
async function sendRanges<T>(client: S3Client, ranges: Range[], send: (body: ReadableStream<Uint8Array>) => Promise<T>): Promise<T> {
  let unread: unknown;
  const body = joinStreams(
    ranges.map((r) => async () => {
      try {
        return await readRange(client, r);
      } catch (error) {
        unread = error;
        throw error;
      }
    }),
  );
  try {
    return await send(body);
  } catch (error) {
    throw unread ?? error;
  }
}

/** The first `n` bytes of the concatenation of `partials` (to sniff the final upload's type). */
export async function headOfPartials(client: S3Client, partials: PartialInfo[], n: number): Promise<Uint8Array> {
  return new Uint8Array(await new Response(readRanges(client, rangesOf(partials, 0, n))).arrayBuffer());
}

/**
 * Assembles the object part by part until `deadline` has passed (at least one part a call, so every
 * step makes progress): parts of P bytes over the concatenation. A part within one partial upload is copied inside the store (UploadPartCopy with a
 * byte range); a part spanning two, or any part on a store that cannot copy parts, streams through
 * from ranged reads. Each part is recorded as it lands. Answers true once the object is complete,
 * false when parts remain for the next call (a step of the owner's alarm). An object of one part is
 * a single PutObject, one step whatever its deadline.
 */
export async function assembleStep(client: S3Client, a: Assembly, ledger: AssemblyLedger, deadline: number): Promise<boolean> {
  const P = a.partSize;
  if (a.length <= P) {
    await ledger.holdLease();
    await sendRanges(client, rangesOf(a.partials, 0, a.length), (body) => client.putObject(a.key, body, { contentType: a.type, contentLength: a.length }));
    return true;
  }
  const uploadId = await ledger.uploadId();
  const parts = ledger.parts();
  let copyParts = a.copyParts && client.location.uploadPartCopy;
  const first = parts.length + 1;
  for (let n = first; (n - 1) * P < a.length; n++) {
    if (n > first && Date.now() >= deadline) return false;
    const start = (n - 1) * P;
    const end = Math.min(n * P, a.length);
    const ranges = rangesOf(a.partials, start, end);
    const only = ranges.length === 1 ? ranges[0] : undefined;
    let part = only && copyParts ? await client.uploadPartCopy(a.key, uploadId, n, only) : undefined;
    if (only && copyParts && !part) {
      copyParts = false;
      ledger.copyRefused();
    }
    part ??= await sendRanges(client, ranges, (body) => client.uploadPart(a.key, uploadId, n, body, end - start));
    const recorded = { ...part, size: end - start };
    ledger.record(recorded);
    parts.push(recorded);
    await ledger.holdLease();
  }
  await client.completeMultipartUpload(a.key, uploadId, parts, { size: a.length, startedAt: ledger.startedAt() });
  return true;
}
