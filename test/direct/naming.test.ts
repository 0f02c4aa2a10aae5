import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, fixture, sha256, testClient } from '../helpers';
import { type Completion, DirectClient } from './direct-client';

/**
 * File Naming `original` on the direct path: the key is fixed when the upload starts (it is in every
 * presigned URL), so it is the name made safe with the name's extension, claimed by the upload while
 * it lives; at completion the bytes' extension wins (a copy inside the store when the name's was
 * another). Under `uuid` the keys stay `<id>.<ext>` (protocol.test.ts).
 */
const client = new DirectClient();
const store = testClient();
const r = () => crypto.randomUUID().slice(0, 8);
const photo = fixture('photo-meta.jpg');

async function completed(res: Response): Promise<Completion> {
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json();
}

async function stored(key: string): Promise<Uint8Array | null> {
  return store.readBytes(key);
}

describe('direct uploads under File Naming original', () => {
  beforeAll(async () => {
    const res = await api('/settings', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"file_naming":"original"}' });
    expect(res.status).toBe(200);
  });
  afterAll(async () => {
    await api('/settings', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"file_naming":"uuid"}' });
  });

  it('keys the upload by its name made safe, from the start to the record', async () => {
    const id = r();
    const upload = await client.start(`../holiday/Trip Photo ${id}.JPG`, 'image/jpeg');
    expect(upload.key).toBe(`trip-photo-${id}.jpg`);
    const done = await completed(await client.complete(upload, [await client.putPart(upload, 1, photo)]));
    expect(done.key).toBe(`trip-photo-${id}.jpg`);
    expect(done.data).toMatchObject({ filename_disk: `trip-photo-${id}.jpg`, filename_download: `../holiday/Trip Photo ${id}.JPG`, type: 'image/jpeg' });
    expect(await sha256((await stored(done.key)) as Uint8Array)).toBe(await sha256(photo));
  });

  it('two uploads of one name at once get two keys; an aborted one lets go of its key', async () => {
    const name = `twin-${r()}.jpg`;
    const [a, b] = await Promise.all([client.start(name, 'image/jpeg'), client.start(name, 'image/jpeg')]);
    expect([a.key, b.key].sort()).toEqual([name, name.replace('.jpg', '-2.jpg')].sort());
    const first = a.key === name ? a : b;
    expect((await client.abort(first)).status).toBe(200);
    expect((await client.start(name, 'image/jpeg')).key).toBe(name);
  });

  it('the bytes\' extension wins: a JPEG named .png is moved to .jpg at completion, nothing left at .png', async () => {
    const id = r();
    const upload = await client.start(`shot-${id}.png`, 'image/png');
    expect(upload.key).toBe(`shot-${id}.png`);
    const done = await completed(await client.complete(upload, [await client.putPart(upload, 1, photo)]));
    expect(done.data).toMatchObject({ filename_disk: `shot-${id}.jpg`, type: 'image/jpeg' });
    expect(done.key).toBe(upload.key);
    expect(await stored(`shot-${id}.png`)).toBeNull();
    expect(await sha256((await stored(`shot-${id}.jpg`)) as Uint8Array)).toBe(await sha256(photo));
    const served = await api(`/assets/${done.data.id}`);
    expect(await sha256(new Uint8Array(await served.arrayBuffer()))).toBe(await sha256(photo));
    // A retried completion (its answer lost) finds the same record.
    expect((await completed(await client.complete(upload, [{ PartNumber: 1, ETag: '"x"' }]))).data.filename_disk).toBe(`shot-${id}.jpg`);
  });
});
