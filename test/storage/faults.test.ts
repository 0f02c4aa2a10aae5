import { env, evictDurableObject } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { getConfig } from '../../src/config';
import { FilesRepository } from '../../src/db/files-repository';
import { LiveUploadsRepository } from '../../src/db/live-uploads-repository';
import { SweepRepository } from '../../src/db/sweep-repository';
import { sweepLocation } from '../../src/files/sweep';
import { storageFor } from '../../src/storage';
import { api, bytes, errorOf, type FileJson, fixture, form, sha256, testClient, tusMetadata } from '../helpers';

/**
 * The storage location `faulty` is the test bucket behind scripts/fault-proxy.ts, under ROOT
 * `faulty`. Faults are injected there; what landed is read back past the proxy (`direct`).
 */
const proxy = env.TEST_FAULT_PROXY;
const direct = testClient({ ROOT: 'faulty' });
const MiB = 1024 * 1024;
const TUS = { 'tus-resumable': '1.0.0' };
const OCTETS = { 'content-type': 'application/offset+octet-stream' };

type Action = 'fail' | 'slowdown' | 'cut-request' | 'cut-response';
const control = (path: string, body?: unknown) => fetch(`${proxy}/__faults/${path}`, { method: 'POST', body: JSON.stringify(body ?? null) });
const rule = (r: { method?: string; match?: string; action: Action; times?: number }) => control('rule', r);
const injected = async () => ((await (await fetch(`${proxy}/__faults/log`)).json()) as { injected: { method: string; path: string; action: Action }[] }).injected;
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

beforeEach(() => control('reset'));
afterEach(() => control('reset'));

async function upload(name: string, data: Uint8Array, type = 'application/octet-stream'): Promise<Response> {
  return api('/files', { method: 'POST', body: form([{ name, data, type }], { storage: 'faulty' }) });
}

async function uploaded(name: string, data: Uint8Array, type?: string): Promise<FileJson> {
  const res = await upload(name, data, type);
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { data: FileJson }).data;
}

/** A JPEG whose frame header and EXIF lie past the upload's head: metadata needs a ranged read. */
function paddedJpeg(jpeg: Uint8Array): Uint8Array {
  const comments: number[] = [];
  for (let left = 300 * 1024; left > 0; left -= 65533) {
    const n = Math.min(65533, left);
    comments.push(0xff, 0xfe, (n + 2) >> 8, (n + 2) & 0xff, ...new Uint8Array(n));
  }
  return new Uint8Array([...jpeg.subarray(0, 2), ...comments, ...jpeg.subarray(2)]);
}

async function stored(key: string): Promise<Uint8Array | null> {
  return direct.readBytes(key);
}

/** Every answer of the service under faults: a success, or a storage error it names, never a 500. */
async function expectNoInternalError(res: Response): Promise<void> {
  if (res.status < 500) return;
  const { code } = await errorOf(res.clone());
  expect(res.status, code).not.toBe(500);
  expect(code).toMatch(/^STORAGE_/);
  expect(res.headers.get('retry-after')).toBe('1');
}

async function tusCreate(length: number, extra: Record<string, string> = {}): Promise<string> {
  const res = await api('/files/tus', { method: 'POST', headers: { ...TUS, 'upload-length': String(length), 'upload-metadata': tusMetadata({ filename: 'big.bin', storage: 'faulty', ...extra }) } });
  await expectNoInternalError(res);
  if (res.status !== 201) throw new Error(`TUS creation answered ${res.status}`);
  return new URL(res.headers.get('location') ?? '').pathname;
}

/**
 * What tus-js-client does: PATCH from the server's offset, and after a failure ask HEAD where to go
 * on from. Returns the file's id once the upload is complete; every answer is checked on the way.
 */
async function tusSend(path: string, data: Uint8Array, chunk: number, maxAttempts = 30): Promise<string> {
  let offset = 0;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const res = await api(path, { method: 'PATCH', headers: { ...TUS, ...OCTETS, 'upload-offset': String(offset) }, body: data.slice(offset, offset + chunk) });
    await expectNoInternalError(res);
    const id = res.headers.get('directus-file-id');
    if (res.status === 204 && id) return id;
    if (res.status === 204) {
      offset = Number(res.headers.get('upload-offset'));
      continue;
    }
    const h = await api(path, { method: 'HEAD', headers: TUS });
    await expectNoInternalError(h);
    const done = h.headers.get('directus-file-id');
    if (h.status === 200 && done) return done;
    if (h.status === 200) offset = Number(h.headers.get('upload-offset'));
  }
  throw new Error('the upload did not complete');
}

const sweepDeps = () => ({ files: new FilesRepository(env.DB), live: new LiveUploadsRepository(env.DB), positions: new SweepRepository(env.DB) });

/** An RGB PNG of noise (it does not compress), stored deflate made by the runtime; CRCs left zero. */
async function noisePng(width: number, height: number): Promise<Uint8Array> {
  const noise = bytes(width * height * 3, 7);
  const rows = new Uint8Array(height * (1 + width * 3));
  for (let y = 0; y < height; y++) rows.set(noise.subarray(y * width * 3, (y + 1) * width * 3), y * (1 + width * 3) + 1);
  const idat = new Uint8Array(await new Response(new Blob([rows]).stream().pipeThrough(new CompressionStream('deflate'))).arrayBuffer());
  const chunk = (type: string, body: Uint8Array) => {
    const out = new Uint8Array(12 + body.length);
    new DataView(out.buffer).setUint32(0, body.length);
    out.set(new TextEncoder().encode(type), 4);
    out.set(body, 8);
    return out;
  };
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, width);
  new DataView(ihdr.buffer).setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const parts = [new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))];
  return new Uint8Array(await new Blob(parts).arrayBuffer());
}

async function fileJson(id: string): Promise<FileJson> {
  return ((await (await api(`/files/${id}`)).json()) as { data: FileJson }).data;
}

async function expectIntact(file: FileJson, data?: Uint8Array): Promise<void> {
  const bytesStored = await stored(file.filename_disk);
  expect(bytesStored, file.filename_disk).not.toBeNull();
  expect(await sha256(bytesStored as Uint8Array)).toBe(file.checksum);
  if (data) expect(file.checksum).toBe(await sha256(data));
}

describe('thumbnails: a source read that fails or is cut', () => {
  // A JPEG is read whole before it is decoded; a PNG is decoded as it streams in, so a cut in the
  // second half of a 1 MB one lands mid-decode and must still be a storage error (503), never a
  // damaged-image 422.
  const sources = { 'photo-meta.jpg': () => fixture('photo-meta.jpg'), 'alpha.png': () => fixture('alpha.png'), 'noise-1mb.png': () => noisePng(600, 600) };
  for (const [name, data] of Object.entries(sources)) {
    const type = name.endsWith('.png') ? 'image/png' : 'image/jpeg';
    it(`${name}: is resumed from the byte reached when the body is cut, and retried after a 500`, async () => {
      const file = await uploaded(name, await data(), type);
      const source = `/faulty/${escape(file.filename_disk)}$`;
      for (const [i, action] of (['cut-response', 'fail', 'slowdown'] as const).entries()) {
        await rule({ method: 'GET', match: source, action, times: 2 });
        const res = await api(`/assets/${file.id}?width=${10 + i}&format=png`);
        expect(res.status, `${action}: ${await res.clone().text()}`).toBe(200);
        expect(res.headers.get('x-cache')).toBe('MISS');
        expect((await injected()).filter((f) => f.action === action)).toHaveLength(2);
      }
    });

    it(`${name}: answers 503 STORAGE_UNAVAILABLE with Retry-After when the store keeps failing, then works again`, async () => {
      const file = await uploaded(name, await data(), type);
      for (const action of ['fail', 'cut-response'] as const) {
        await rule({ method: 'GET', match: `/faulty/${escape(file.filename_disk)}$`, action, times: 20 });
        const res = await api(`/assets/${file.id}?width=13`);
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toBe('1');
        expect((await errorOf(res)).code).toBe('STORAGE_UNAVAILABLE');
        await control('reset');
      }
      expect((await api(`/assets/${file.id}?width=13`)).status).toBe(200);
    });
  }
});

describe('structured logs', () => {
  it('one JSON line per request: route pattern, status, duration and the storage retries it took', async () => {
    const file = await uploaded('log.jpg', fixture('photo-meta.jpg'), 'image/jpeg');
    const lines: Record<string, unknown>[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((line: unknown) => {
      if (typeof line === 'string' && line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>);
    });
    try {
      await rule({ method: 'GET', match: `/faulty/${escape(file.filename_disk)}$`, action: 'fail', times: 2 });
      const res = await api(`/assets/${file.private_hash}?width=31`);
      expect(res.status).toBe(200);
      const requestId = res.headers.get('x-request-id');
      expect(lines).toContainEqual({ level: 'info', msg: 'request', requestId, method: 'GET', route: '/assets/:id', status: 200, durationMs: expect.any(Number), storageRetries: 2 });
      // The path held a capability (the private hash): it is never logged.
      expect(JSON.stringify(lines)).not.toContain(file.private_hash);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('metadata reads', () => {
  it('a ranged metadata read that is cut is resumed: the dimensions are still learned', async () => {
    const data = paddedJpeg(fixture('photo-meta.jpg'));
    await rule({ method: 'GET', match: '/faulty/[0-9a-f-]{36}\\.jpg$', action: 'cut-response', times: 1 });
    const file = await uploaded('far.jpg', data, 'image/jpeg');
    expect((await injected()).map((f) => f.action)).toEqual(['cut-response']);
    expect(file.width).toBeGreaterThan(0);
    await expectIntact(file, data);
  });
});

describe('TUS: a cut at every step', () => {
  const data = bytes(6 * MiB + 12345, 7);

  it('the answer to CompleteMultipartUpload is cut: the upload completes, nothing resent', async () => {
    const path = await tusCreate(data.byteLength);
    await rule({ method: 'POST', match: 'uploadId=', action: 'cut-response', times: 1 });
    const id = await tusSend(path, data, data.byteLength, 1);
    expect((await injected()).map((f) => f.action)).toEqual(['cut-response']);
    await expectIntact(await fileJson(id), data);
  });

  it('every answer to CompleteMultipartUpload is lost: HEAD finishes the upload later', async () => {
    const path = await tusCreate(data.byteLength);
    // Every completion answer is lost, and so is every look at the object that would confirm it.
    await rule({ method: 'POST', match: 'uploadId=', action: 'cut-response', times: 4 });
    await rule({ method: 'HEAD', action: 'fail', times: 4 });
    const res = await api(path, { method: 'PATCH', headers: { ...TUS, ...OCTETS, 'upload-offset': '0' }, body: data });
    expect([502, 503]).toContain(res.status);
    await expectNoInternalError(res);
    const h = await api(path, { method: 'HEAD', headers: TUS });
    expect(h.status).toBe(200);
    expect(h.headers.get('upload-offset')).toBe(String(data.byteLength));
    const id = h.headers.get('directus-file-id');
    expect(id).toBeTruthy();
    await expectIntact(await fileJson(id as string), data);
  });

  for (const [step, r] of [
    ['CreateMultipartUpload', { method: 'POST', match: '\\?uploads', action: 'cut-response' }],
    ['each UploadPart (request cut)', { method: 'PUT', match: 'partNumber=', action: 'cut-request', times: 2 }],
    ['each UploadPart (answer cut)', { method: 'PUT', match: 'partNumber=', action: 'cut-response', times: 2 }],
    ['a PutObject of a one-part upload', { method: 'PUT', match: '/faulty/[0-9a-f-]{36}\\.bin$', action: 'cut-response' }],
  ] as const) {
    it(`${step}: retried, and the upload completes byte for byte`, async () => {
      const small = step.includes('one-part');
      const body = small ? data.subarray(0, 100_000) : data;
      const path = await tusCreate(body.byteLength);
      await rule(r);
      const id = await tusSend(path, body, 2 * MiB + 1);
      await expectIntact(await fileJson(id), body);
    });
  }

  it('the checksum made after the record (its running hash lived in an evicted object) is cut while it reads: resumed, and right', async () => {
    const path = await tusCreate(data.byteLength);
    const first = await api(path, { method: 'PATCH', headers: { ...TUS, ...OCTETS, 'upload-offset': '0' }, body: data.subarray(0, 5 * MiB) });
    expect(first.status).toBe(204);
    await evictDurableObject(env.UPLOADS.get(env.UPLOADS.idFromString(path.split('/').pop() as string)));
    await rule({ method: 'GET', match: '/faulty/[0-9a-f-]{36}\\.bin$', action: 'cut-response', times: 2 });
    const id = await tusSend(path, data, data.byteLength);
    await vi.waitFor(async () => expect((await fileJson(id)).checksum).toBe(await sha256(data)), { timeout: 10_000 });
    expect((await injected()).filter((f) => f.method === 'GET').length).toBeGreaterThan(0);
    await expectIntact(await fileJson(id), data);
  });
});

describe('the sweep and uploads in flight', () => {
  it('a sweep in the middle of a TUS upload leaves its multipart upload and bytes alone', async () => {
    const data = bytes(11 * MiB, 9);
    const path = await tusCreate(data.byteLength);
    const first = await api(path, { method: 'PATCH', headers: { ...TUS, ...OCTETS, 'upload-offset': '0' }, body: data.subarray(0, 6 * MiB) });
    expect(first.status).toBe(204);
    // Multipart uploads orphaned by earlier cuts may go; this one, live, must not.
    await sweepLocation(sweepDeps(), storageFor(getConfig(env), 'faulty'), { now: Date.now() + 60_000, graceMs: 0, maxPages: 1000 });
    const rest = await api(path, { method: 'PATCH', headers: { ...TUS, ...OCTETS, 'upload-offset': String(6 * MiB) }, body: data.subarray(6 * MiB) });
    expect(rest.status).toBe(204);
    await expectIntact(await fileJson(rest.headers.get('directus-file-id') as string), data);
  });
});

describe('POST /files, replace and delete under faults', () => {
  it('a multipart upload whose completion answer is lost is recorded once', async () => {
    const data = bytes(6 * MiB, 3);
    await rule({ method: 'POST', match: 'uploadId=', action: 'cut-response' });
    const file = await uploaded('big.bin', data);
    await expectIntact(file, data);
  });

  it('an upload whose every write answer is lost says so and leaves no object behind', async () => {
    const rootKeys = async () => (await direct.listObjects({ delimiter: '/' })).objects.map((o) => o.key);
    const before = new Set(await rootKeys());
    // The store writes the object each time; only its answers are lost.
    await rule({ method: 'PUT', match: '/faulty/[0-9a-f-]{36}\\.bin$', action: 'cut-response', times: 4 });
    const res = await upload('lost.bin', bytes(1000, 5));
    expect([502, 503]).toContain(res.status);
    await expectNoInternalError(res);
    expect((await injected()).map((f) => f.action)).toEqual(['cut-response', 'cut-response', 'cut-response', 'cut-response']);
    expect((await rootKeys()).filter((k) => !before.has(k))).toEqual([]);
  });

  it('a replacement that cannot be written leaves the file exactly as it was, and nothing beside it', async () => {
    const before = await uploaded('r.txt', new TextEncoder().encode('version one'), 'text/plain');
    await rule({ method: 'PUT', match: `/faulty/${before.id}\\.[0-9a-f]{8}\\.txt$`, action: 'fail', times: 20 });
    const res = await api(`/files/${before.id}`, { method: 'PATCH', body: form([{ name: 'r.txt', data: 'version two', type: 'text/plain' }]) });
    expect(res.status).toBe(503);
    await expectNoInternalError(res);
    expect(await fileJson(before.id)).toMatchObject({ filename_disk: before.filename_disk, checksum: before.checksum });
    expect(await (await api(`/assets/${before.id}`)).text()).toBe('version one');
    const beside = (await direct.listObjects({ prefix: before.id })).objects.map((o) => o.key);
    expect(beside).toEqual([before.filename_disk]);
  });

  it('a replacement whose metadata read keeps failing removes the bytes it wrote', async () => {
    const before = await uploaded('m.jpg', fixture('photo-meta.jpg'), 'image/jpeg');
    await rule({ method: 'GET', match: `/faulty/${before.id}\\.[0-9a-f]{8}\\.jpg$`, action: 'fail', times: 20 });
    const res = await api(`/files/${before.id}`, { method: 'PATCH', body: form([{ name: 'm.jpg', data: paddedJpeg(fixture('progressive.jpg')), type: 'image/jpeg' }]) });
    await expectNoInternalError(res);
    expect(res.status).toBe(503);
    expect(await fileJson(before.id)).toMatchObject({ filename_disk: before.filename_disk, checksum: before.checksum });
    expect((await direct.listObjects({ prefix: before.id })).objects.map((o) => o.key)).toEqual([before.filename_disk]);
  });

  it('a delete the store refuses keeps the record and says so; it works once the store is back', async () => {
    const file = await uploaded('d.txt', new TextEncoder().encode('bye'), 'text/plain');
    await rule({ method: 'DELETE', action: 'fail', times: 20 });
    const res = await api(`/files/${file.id}`, { method: 'DELETE' });
    expect(res.status).toBe(503);
    await expectNoInternalError(res);
    expect((await api(`/files/${file.id}`)).status).toBe(200);
    await control('reset');
    expect((await api(`/files/${file.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(await stored(file.filename_disk)).toBeNull();
  });
});

describe('a seeded run: 15% of storage requests fail, 5% are cut', () => {
  it('never answers 500, loses nothing, and leaves nothing a sweep would not remove', async () => {
    const seed = Number(env.FAULT_SEED);
    await control('random', { seed, failRate: 0.15, cutRate: 0.05, match: '/faulty/' });
    const expected = new Map<string, string>(); // file id → sha256 of the bytes it must hold
    const deleted = new Set<string>();
    const remember = async (file: FileJson, data: Uint8Array) => expected.set(file.id, await sha256(data));

    for (let i = 0; i < 10; i++) {
      const data = i % 3 === 0 ? fixture('photo-meta.jpg') : bytes(20_000 + i * 1000, 100 + i);
      const res = await upload(i % 3 === 0 ? `p${i}.jpg` : `b${i}.bin`, data, i % 3 === 0 ? 'image/jpeg' : 'application/octet-stream');
      await expectNoInternalError(res);
      if (res.status === 200) await remember(((await res.json()) as { data: FileJson }).data, data);
    }
    for (let i = 0; i < 2; i++) {
      const data = bytes(5 * MiB + 4096 * (i + 1), 200 + i);
      const res = await upload(`m${i}.bin`, data);
      await expectNoInternalError(res);
      if (res.status === 200) await remember(((await res.json()) as { data: FileJson }).data, data);
    }
    for (let i = 0; i < 3; i++) {
      const data = bytes(6 * MiB + 999 * i, 300 + i);
      let path: string | undefined;
      for (let attempt = 0; attempt < 10 && !path; attempt++) path = await tusCreate(data.byteLength).catch(() => undefined);
      const id = await tusSend(path as string, data, 2 * MiB);
      expected.set(id, await sha256(data));
    }
    const ids = [...expected.keys()];
    for (const id of ids) {
      const res = await api(`/assets/${id}?width=24&height=24&fit=cover`);
      await expectNoInternalError(res);
    }
    for (const id of ids.slice(0, 2)) {
      const data = bytes(30_000, 400 + ids.indexOf(id));
      const res = await api(`/files/${id}`, { method: 'PATCH', body: form([{ name: 'new.bin', data }]) });
      await expectNoInternalError(res);
      if (res.status === 200) expected.set(id, await sha256(data));
    }
    for (const id of ids.slice(2, 4)) {
      const res = await api(`/files/${id}`, { method: 'DELETE' });
      await expectNoInternalError(res);
      if (res.status === 204) deleted.add(id);
    }
    const faults = await injected();
    expect(faults.length).toBeGreaterThanOrEqual(5);
    await control('reset');

    // Every successful upload has its record, and every record's bytes read back identical.
    for (const [id, sum] of expected) {
      if (deleted.has(id)) {
        expect((await api(`/files/${id}`)).status).toBe(404);
        continue;
      }
      const file = await fileJson(id);
      expect(file.checksum, id).toBe(sum);
      await expectIntact(file);
    }
    // No object without a record survives a sweep (grace 0: nothing is in flight now).
    await sweepLocation(sweepDeps(), storageFor(getConfig(env), 'faulty'), { now: Date.now(), graceMs: 0, maxPages: 1000 });
    const left = (await direct.listObjects({ delimiter: '/' })).objects.map((o) => o.key);
    const referenced = await new FilesRepository(env.DB).referencedKeys('faulty', left);
    expect(left.filter((k) => !referenced.has(k))).toEqual([]);
  });
});
