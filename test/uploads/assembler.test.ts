import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors/app-error';
import type { UploadedPart } from '../../src/storage/s3-client';
import { assembleStep, type AssemblyLedger, claimPartials, type PartialInfo, type PartialUpload, rangesOf } from '../../src/uploads/assembler';
import { type Outcome, refusal, tusError } from '../../src/uploads/tus-protocol';
import { bytes, sha256, testClient, uniqueKey } from '../helpers';

const MiB = 1024 * 1024;
const client = testClient();

const info = (key: string, size: number, storage = 'local'): PartialInfo => ({ id: key, storage, key, size });

describe('rangesOf', () => {
  const partials = [info('a', 3), info('b', 0), info('c', 5), info('d', 2)];
  it('maps a span of the concatenation to ranges of the partial uploads, skipping empty ones', () => {
    expect(rangesOf(partials, 0, 10)).toEqual([
      { key: 'a', start: 0, end: 3 },
      { key: 'c', start: 0, end: 5 },
      { key: 'd', start: 0, end: 2 },
    ]);
    expect(rangesOf(partials, 2, 4)).toEqual([
      { key: 'a', start: 2, end: 3 },
      { key: 'c', start: 0, end: 1 },
    ]);
    expect(rangesOf(partials, 8, 10)).toEqual([{ key: 'd', start: 0, end: 2 }]);
    expect(rangesOf(partials, 4, 4)).toEqual([]);
  });
});

/** A ledger in memory, as the Durable Object keeps one in its storage. */
function memoryLedger(key: string) {
  const state = { parts: [] as UploadedPart[], uploadId: undefined as string | undefined, copyRefused: 0, leases: 0, startedAt: 0 };
  const ledger: AssemblyLedger = {
    parts: () => [...state.parts],
    record: (p) => void state.parts.push(p),
    uploadId: async () => {
      state.startedAt ||= Date.now();
      state.uploadId ??= await client.createMultipartUpload(key, { contentType: 'application/octet-stream' });
      return state.uploadId;
    },
    holdLease: async () => void state.leases++,
    copyRefused: () => void state.copyRefused++,
    startedAt: () => state.startedAt,
  };
  return { state, ledger };
}

async function stored(pieces: Uint8Array[]): Promise<PartialInfo[]> {
  return Promise.all(
    pieces.map(async (d) => {
      const key = uniqueKey('assembler');
      await client.putObject(key, d, { contentLength: d.byteLength });
      return info(key, d.byteLength);
    }),
  );
}

describe('assembleStep', () => {
  it('an object of one part is one PutObject, done in one step', async () => {
    const pieces = [bytes(1000, 1), bytes(0, 2), bytes(3000, 3)];
    const key = uniqueKey('assembled');
    const { state, ledger } = memoryLedger(key);
    const a = { key, type: 'application/octet-stream', partials: await stored(pieces), length: 4000, partSize: 5 * MiB, copyParts: true };
    expect(await assembleStep(client, a, ledger, 0)).toBe(true);
    expect(state.uploadId).toBeUndefined();
    expect(await sha256((await client.readBytes(key)) as Uint8Array)).toBe(await sha256(new Uint8Array([...(pieces[0] as Uint8Array), ...(pieces[2] as Uint8Array)])));
  });

  it('goes part by part past its deadline, each part recorded, and completes on the last step', async () => {
    // P = 5 MiB over 6 MiB + 5 MiB: part 1 lies inside the first (a copy is tried: s3rver cannot),
    // part 2 spans both, part 3 lies inside the second (streamed at once, the refusal remembered).
    const pieces = [bytes(6 * MiB, 4), bytes(5 * MiB, 5)];
    const key = uniqueKey('assembled');
    const { state, ledger } = memoryLedger(key);
    const partials = await stored(pieces);
    // Each step starts from what the ledger holds, as each alarm does.
    const step = () => assembleStep(client, { key, type: 'application/octet-stream', partials, length: 11 * MiB, partSize: 5 * MiB, copyParts: state.copyRefused === 0 }, ledger, 0);
    expect(await step()).toBe(false);
    expect(state.parts.map((p) => p.partNumber)).toEqual([1]);
    expect(await step()).toBe(false);
    expect(state.parts.map((p) => p.size)).toEqual([5 * MiB, 5 * MiB]);
    expect(await step()).toBe(true);
    expect(state.parts.map((p) => p.size)).toEqual([5 * MiB, 5 * MiB, MiB]);
    expect(state.copyRefused).toBe(1);
    expect(state.leases).toBe(3);
    const whole = new Uint8Array(11 * MiB);
    whole.set(pieces[0] as Uint8Array);
    whole.set(pieces[1] as Uint8Array, 6 * MiB);
    expect(await sha256((await client.readBytes(key)) as Uint8Array)).toBe(await sha256(whole));
  });

  it('fails with STORAGE_ERROR when a partial upload’s bytes are missing', async () => {
    const key = uniqueKey('assembled');
    const { ledger } = memoryLedger(key);
    const a = { key, type: 'application/octet-stream', partials: [info(uniqueKey('gone'), 6 * MiB)], length: 6 * MiB, partSize: 5 * MiB, copyParts: false };
    await expect(assembleStep(client, a, ledger, Number.POSITIVE_INFINITY)).rejects.toMatchObject({ code: 'STORAGE_ERROR' });
  });
});

describe('claimPartials', () => {
  /** Partial uploads in memory: each claims itself once, as the Durable Object does. */
  function partials(refuse: Record<string, AppError> = {}, storage: Record<string, string> = {}) {
    const claimed = new Map<string, string>();
    const used: string[] = [];
    const partial = (id: string): PartialUpload => {
      if (id === 'malformed') throw new TypeError('Invalid Durable Object ID');
      return {
        claimPartial: async (_owner, finalId): Promise<Outcome<PartialInfo>> => {
          const error = refuse[id];
          if (error) return refusal(error);
          if (claimed.has(id) && claimed.get(id) !== finalId) return refusal(tusError(409, 'A partial upload in Upload-Concat is already used by another final upload.'));
          claimed.set(id, finalId);
          return { ok: true, value: info(id, 10, storage[id]) };
        },
        releasePartial: async (_owner, finalId, use) => {
          if (claimed.get(id) !== finalId) return;
          claimed.delete(id);
          if (use) used.push(id);
        },
      };
    };
    return { partial, claimed, used };
  }
  const me = { owner: 'o', finalId: 'f1' };
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `p${i}`);

  it('claims every partial upload in order', async () => {
    const { partial, claimed } = partials();
    expect((await claimPartials(partial, me, 'local', ids(60))).map((p) => p.id)).toEqual(ids(60));
    expect(claimed.size).toBe(60);
    await expect(claimPartials(partial, { owner: 'o', finalId: 'f2' }, 'local', ['p59'])).rejects.toMatchObject({ code: 'UPLOAD_CONFLICT' });
  });

  it.each([
    ['another final’s', tusError(409, 'A partial upload in Upload-Concat is already used by another final upload.'), 'UPLOAD_CONFLICT'],
    ['a used-up', tusError(410, 'This upload was terminated.'), 'UPLOAD_GONE'],
    ['an unknown', tusError(404, 'Upload not found.'), 'INVALID_PAYLOAD'],
    ['an unfinished', tusError(400, 'A partial upload in Upload-Concat is not complete yet; finish it first.'), 'INVALID_PAYLOAD'],
  ])('refuses %s partial upload and releases the ones it claimed (even in earlier batches)', async (_, error, code) => {
    const { partial, claimed } = partials({ p40: error });
    await expect(claimPartials(partial, me, 'local', ids(60))).rejects.toMatchObject({ code, message: expect.stringMatching(/^Upload-Concat/) });
    expect(claimed.size).toBe(0);
  });

  it('refuses an id that is no upload of this namespace, and partial uploads of another storage', async () => {
    const a = partials();
    await expect(claimPartials(a.partial, me, 'local', ['p0', 'malformed'])).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
    expect(a.claimed.size).toBe(0);
    const b = partials({}, { p1: 'other' });
    await expect(claimPartials(b.partial, me, 'local', ids(3))).rejects.toMatchObject({ code: 'INVALID_PAYLOAD', message: expect.stringMatching(/same storage location/) });
    expect(b.claimed.size).toBe(0);
  });
});
