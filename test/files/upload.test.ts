import { describe, expect, it } from 'vitest';
import { api, bytes, errorOf, type FileJson, form, sha256, testClient, uploadFile } from '../helpers';

const client = testClient();
const MiB = 1024 * 1024;

async function assetBytes(id: string): Promise<Uint8Array> {
  const res = await api(`/assets/${id}`, { token: null });
  expect(res.status).toBe(200);
  return new Uint8Array(await res.arrayBuffer());
}

describe('POST /files', () => {
  it('stores one file and returns its record', async () => {
    const data = bytes(10_000, 21);
    const file = await uploadFile({ name: 'my_photo-2024.jpg', data, type: 'image/jpeg' });
    expect(file).toMatchObject({
      storage: 'local',
      filename_download: 'my_photo-2024.jpg',
      title: 'My Photo 2024',
      type: 'image/jpeg',
      filesize: '10000',
      checksum: await sha256(data),
    });
    expect(file.filename_disk).toBe(`${file.id}.jpg`);
    expect(await sha256(await assetBytes(file.id))).toBe(await sha256(data));
    expect((await client.headObject(file.filename_disk))?.size).toBe(10_000);
  });

  it('applies the fields sent before the file', async () => {
    const file = await uploadFile(
      { name: 'x.txt', data: 'hello', type: 'text/plain' },
      { title: 'Given title', description: 'A description', tags: '["a","b"]', filename_download: 'download.txt' },
    );
    expect(file).toMatchObject({ title: 'Given title', description: 'A description', tags: ['a', 'b'], filename_download: 'download.txt' });
  });

  it('creates one file per file part', async () => {
    const res = await api('/files', {
      method: 'POST',
      body: form([
        { name: 'a.txt', data: 'aaa' },
        { name: 'b.txt', data: 'bbbb' },
      ]),
    });
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as { data: FileJson[] };
    expect(data.map((f) => [f.filename_download, f.filesize])).toEqual([
      ['a.txt', '3'],
      ['b.txt', '4'],
    ]);
  });

  it('keeps unicode names for download and never uses a client name as a key', async () => {
    const unicode = await uploadFile({ name: 'Ünïcödé 日本語 🎉.png', data: 'x' });
    expect(unicode.filename_download).toBe('Ünïcödé 日本語 🎉.png');
    expect(unicode.filename_disk).toBe(`${unicode.id}.png`);
    const hostile = await uploadFile({ name: '../../etc/passwd', data: 'x' });
    // The extension follows the sniffed type (text), never the client's name.
    expect(hostile.filename_disk).toBe(`${hostile.id}.txt`);
    // busboy keeps only the base name of a path-like file name, as browsers send it.
    expect(hostile.filename_download).toBe('passwd');
  });

  it('stores an empty file', async () => {
    const file = await uploadFile({ name: 'empty.bin', data: new Uint8Array(0) });
    expect(file.filesize).toBe('0');
    expect((await assetBytes(file.id)).byteLength).toBe(0);
  });

  it('streams a file larger than one part as a multipart upload, byte-identical', async () => {
    const data = bytes(6 * MiB + 321, 22);
    const file = await uploadFile({ name: 'big.bin', data });
    expect(file.filesize).toBe(String(data.byteLength));
    expect(await sha256(await assetBytes(file.id))).toBe(await sha256(data));
  });

  it('refuses a file over FILES_MAX_UPLOAD_SIZE with 413 and keeps nothing', async () => {
    const before = (await (await api('/files?meta=total_count&limit=0')).json()) as { meta: { total_count: number } };
    const res = await api('/files', { method: 'POST', body: form([{ name: 'huge.bin', data: bytes(20 * MiB + 1, 23) }]) });
    const error = await errorOf(res);
    expect(error).toMatchObject({ status: 413, code: 'CONTENT_TOO_LARGE' });
    const after = (await (await api('/files?meta=total_count&limit=0')).json()) as { meta: { total_count: number } };
    expect(after.meta.total_count).toBe(before.meta.total_count);
  });

  it('a request with no file part is a 400', async () => {
    const body = new FormData();
    body.append('title', 'no file');
    expect(await errorOf(await api('/files', { method: 'POST', body }))).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
  });

  it('a JSON body is refused with 415', async () => {
    const res = await api('/files', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(await errorOf(res)).toMatchObject({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  it('an unknown storage location is a 400 and nothing is stored', async () => {
    const res = await api('/files', { method: 'POST', body: form([{ name: 'a.txt', data: 'a' }], { storage: 'nowhere' }) });
    const error = await errorOf(res);
    expect(error).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
    expect(error.message).toMatch(/nowhere/);
  });

  it('read-only fields are refused', async () => {
    const res = await api('/files', { method: 'POST', body: form([{ name: 'a.txt', data: 'a' }], { filesize: '1' }) });
    expect(await errorOf(res)).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD', message: 'Field "filesize" is read-only.' });
  });
});
