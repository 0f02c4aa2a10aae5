import { describe, expect, it } from 'vitest';
import { ResumableSha256 } from '../../src/lib/resumable-sha256';
import { hashRun, RequestDigest, runningHash, uploadChecksum } from '../../src/uploads/checksum';
import type { State } from '../../src/uploads/session-store';
import { bytes, sha256, testClient, uniqueKey } from '../helpers';

const client = testClient();
const stateOf = (s: Partial<State>) => ({ offset: 0, ...s }) as State;
const base64 = async (algorithm: string, data: Uint8Array) => btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest(algorithm, data))));

describe('runningHash', () => {
  it('goes on from the saved state when it covers exactly the bytes received', () => {
    const h = ResumableSha256.load(undefined);
    h.update(bytes(1000, 1));
    const saved = h.save();
    expect(runningHash(stateOf({ offset: 1000, hash: saved }))?.hashed).toBe(1000);
  });

  it('is none for a saved state behind the offset (an upload from before it) and for concatenation', () => {
    const h = ResumableSha256.load(undefined);
    h.update(bytes(10, 1));
    expect(runningHash(stateOf({ offset: 20, hash: h.save() }))).toBeUndefined();
    expect(runningHash(stateOf({ offset: 0, concat: 'partial' }))).toBeUndefined();
    expect(runningHash(stateOf({ offset: 0 }))?.hashed).toBe(0);
  });
});

describe('RequestDigest', () => {
  it('matches the digest of the chunks it was given, for each algorithm of Upload-Checksum', async () => {
    const data = bytes(300_000, 2);
    for (const [name, algorithm] of [['sha1', 'SHA-1'], ['md5', 'MD5'], ['sha256', 'SHA-256']] as const) {
      const digest = new RequestDigest(name);
      digest.update(data.subarray(0, 1234));
      digest.update(data.subarray(1234));
      expect(await digest.matches(await base64(algorithm, data)), name).toBe(true);
    }
  });

  it('does not match another body', async () => {
    const digest = new RequestDigest('sha256');
    digest.update(bytes(100, 3));
    expect(await digest.matches(await base64('SHA-256', bytes(100, 4)))).toBe(false);
  });
});

describe('the checksum of an upload', () => {
  it('comes from the running hash, or from the object read once when there is none', async () => {
    const data = bytes(3 * 1024 * 1024 + 7, 5);
    const key = uniqueKey('checksum');
    await client.putObject(key, data, { contentLength: data.byteLength });
    const h = ResumableSha256.load(undefined);
    h.update(data);
    expect(await uploadChecksum(stateOf({ offset: data.byteLength, hash: h.save(), key }), client)).toBe(await sha256(data));
    expect(await uploadChecksum(stateOf({ offset: data.byteLength, key }), client)).toBe(await sha256(data));
  });

  it('a background run goes on from the hash state it saved, and gives the digest once every byte is in', async () => {
    const data = bytes(2 * 1024 * 1024, 6);
    const key = uniqueKey('checksum');
    await client.putObject(key, data, { contentLength: data.byteLength });
    const half = ResumableSha256.load(undefined);
    half.update(data.subarray(0, 1024 * 1024));
    const saves: string[] = [];
    const digest = await hashRun(client, stateOf({ offset: data.byteLength, key, hashing: { hash: half.save() } }), (h) => saves.push(h));
    expect(digest).toBe(await sha256(data));
    expect(ResumableSha256.load(saves.at(-1)).hashed).toBe(data.byteLength);
  });
});
