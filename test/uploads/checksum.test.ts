import { describe, expect, it } from 'vitest';
import { ResumableSha256 } from '../../src/lib/resumable-sha256';
import { hashRun, RequestDigest, RunningHash } from '../../src/uploads/checksum';
import type { State } from '../../src/uploads/session-store';
import { bytes, sha256, testClient, uniqueKey } from '../helpers';

const client = testClient();
const stateOf = (s: Partial<State>) => ({ offset: 0, ...s }) as State;
const base64 = async (algorithm: string, data: Uint8Array) => btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest(algorithm, data))));

describe('RunningHash', () => {
  it('goes on while it has seen exactly the bytes before the offset, and gives their SHA-256', async () => {
    const data = bytes(3 * 1024 * 1024 + 7, 1);
    const running = new RunningHash();
    const state = stateOf({});
    await running.at(state, 0)?.update(data.subarray(0, 1000));
    const digest = running.at(state, 1000);
    expect(digest?.hashed).toBe(1000);
    await digest?.update(data.subarray(1000));
    expect(await running.checksum(stateOf({ offset: data.byteLength }))).toBe(await sha256(data));
  });

  it('leaves the checksum to the background once it lost the thread (bytes it saw were given up, or it never saw some)', async () => {
    const running = new RunningHash();
    await running.at(stateOf({}), 0)?.update(bytes(2000, 2));
    // A part given up: the upload goes on from 1000, and the hash had seen 2000.
    expect(running.at(stateOf({}), 1000)).toBeUndefined();
    expect(await running.checksum(stateOf({ offset: 3000 }))).toBeNull();
    // An evicted object: a new one has no hash of the bytes before.
    expect(new RunningHash().at(stateOf({}), 5)).toBeUndefined();
    expect(await new RunningHash().checksum(stateOf({ offset: 5 }))).toBeNull();
  });

  it('starts again at offset 0, and is none for partial uploads (their final upload is hashed)', async () => {
    const running = new RunningHash();
    await running.at(stateOf({}), 0)?.update(bytes(10, 3));
    const again = running.at(stateOf({}), 0);
    await again?.update(bytes(10, 4));
    expect(await running.checksum(stateOf({ offset: 10 }))).toBe(await sha256(bytes(10, 4)));
    expect(running.at(stateOf({ concat: 'partial' }), 0)).toBeUndefined();
  });

  it('hands the chunk on unchanged (the same chunk goes on to storage)', async () => {
    const chunk = bytes(1024 * 1024, 5);
    const copy = chunk.slice();
    const running = new RunningHash();
    await running.at(stateOf({}), 0)?.update(chunk);
    expect(await running.checksum(stateOf({ offset: chunk.byteLength }))).toBe(await sha256(copy));
    expect(chunk.byteLength).toBe(copy.byteLength);
    expect(await sha256(chunk)).toBe(await sha256(copy));
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
