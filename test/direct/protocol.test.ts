import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { app } from '../../src/app';
import { parseConfig } from '../../src/config';
import { LiveUploadsRepository } from '../../src/db/live-uploads-repository';
import { sweepDirectUploads } from '../../src/direct/uploads';
import { S3Client } from '../../src/storage/s3-client';
import { ADMIN_TOKEN, api, bytes, fixture, sha256 } from '../helpers';
import { type Completion, DirectClient, UPLOAD_GONE, withChecksum } from './direct-client';

const MiB = 1024 * 1024;
const client = new DirectClient();
const storage = new S3Client(parseConfig(env).defaultLocation);

async function assetBytes(id: string, vars: Record<string, unknown> = env): Promise<Uint8Array> {
  const res = await app.request(`http://assets.test/assets/${id}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }, vars);
  expect(res.status).toBe(200);
  return new Uint8Array(await res.arrayBuffer());
}

describe('direct-to-bucket uploads, step by step', () => {
  it('a JPEG: create, sign, PUT to the bucket, list, complete → the record from the bytes, then its checksum', async () => {
    const photo = fixture('photo-meta.jpg');
    const upload = await client.start('Trip photo.JPG', 'text/plain', { name: 'Trip photo.JPG', type: 'image/jpeg', title: 'Eiffel', tags: ['trip'] });
    expect(upload.key).toMatch(/^[0-9a-f-]{36}\.jpg$/);
    expect(upload.uploadId).not.toBe('');

    const signed = await client.sign(upload, 1);
    expect(signed.status).toBe(200);
    const { url, expires } = (await signed.json()) as { url: string; expires: number };
    expect(expires).toBe(3600);
    const presigned = new URL(url);
    expect(presigned.origin).toBe(new URL(env.STORAGE_LOCAL_ENDPOINT as string).origin);
    expect(presigned.searchParams.get('X-Amz-Expires')).toBe('3600');
    expect(presigned.searchParams.get('partNumber')).toBe('1');
    expect(presigned.searchParams.has('X-Amz-Signature')).toBe(true);

    const put = await fetch(url, { method: 'PUT', body: photo });
    await put.arrayBuffer();
    expect(put.status).toBe(200);
    const etag = put.headers.get('etag') as string;

    const listed = await client.list(upload);
    expect(listed.status).toBe(200);
    expect(await listed.json()).toEqual([{ PartNumber: 1, ETag: etag, Size: photo.byteLength }]);

    const done = await client.complete(upload, [{ PartNumber: 1, ETag: etag }]);
    expect(done.status).toBe(200);
    const body = (await done.json()) as Completion;
    expect(body.key).toBe(upload.key);
    expect(body.location).toBe(`http://assets.test/assets/${body.data.id}`);
    expect(body.data).toMatchObject({
      filename_disk: upload.key,
      filename_download: 'Trip photo.JPG',
      type: 'image/jpeg',
      filesize: String(photo.byteLength),
      width: 64,
      height: 48,
      title: 'Eiffel',
      tags: ['trip'],
      uploaded_by: 'admin',
      storage: 'local',
    });
    expect(body.data.metadata).toMatchObject({ Make: 'Canon', Model: 'EOS R5' });
    expect((await withChecksum(body.data.id)).checksum).toBe(await sha256(photo));
    expect(await assetBytes(body.data.id)).toEqual(photo);
  });

  it('resumes after a lost part: ListParts says what is stored, the missing part is signed again', async () => {
    const data = bytes(10 * MiB + 1000, 271);
    const upload = await client.start('data.bin', 'application/octet-stream');
    const slice = (n: number) => data.subarray((n - 1) * 5 * MiB, n * 5 * MiB);
    const one = await client.putPart(upload, 1, slice(1));
    const three = await client.putPart(upload, 3, slice(3));
    // Part 2's PUT was lost: the client asks what the bucket has.
    const listed = (await (await client.list(upload)).json()) as { PartNumber: number; ETag: string; Size: number }[];
    const unquoted = (etag: string) => etag.replace(/"/g, '');
    expect(listed.map((p) => ({ ...p, ETag: unquoted(p.ETag) }))).toEqual([
      { PartNumber: 1, ETag: unquoted(one.ETag), Size: 5 * MiB },
      { PartNumber: 3, ETag: unquoted(three.ETag), Size: 1000 },
    ]);
    const two = await client.putPart(upload, 2, slice(2));
    const done = await client.complete(upload, [one, two, three]);
    expect(done.status).toBe(200);
    const { data: record } = (await done.json()) as Completion;
    expect(record.filesize).toBe(String(data.byteLength));
    expect(await sha256(await assetBytes(record.id))).toBe(await sha256(data));
  });

  it('a completion retried after a lost answer gives the same record', async () => {
    const upload = await client.start('note.txt', 'text/plain');
    const part = await client.putPart(upload, 1, new TextEncoder().encode('hello, bucket'));
    const first = (await (await client.complete(upload, [part])).json()) as Completion;
    const again = await client.complete(upload, [part]);
    expect(again.status).toBe(200);
    expect(((await again.json()) as Completion).data.id).toBe(first.data.id);
    const listed = (await (await api(`/files?filter[filename_disk][_eq]=${upload.key}&meta=filter_count`)).json()) as { meta: { filter_count: number } };
    expect(listed.meta.filter_count).toBe(1);
  });

  it('abort removes the parts and forgets the upload', async () => {
    const upload = await client.start('gone.bin', 'application/octet-stream');
    const signed = (await (await client.sign(upload, 1)).json()) as { url: string };
    await client.putPart(upload, 1, bytes(1000, 3));
    const aborted = await client.abort(upload);
    expect(aborted.status).toBe(200);
    expect(await aborted.json()).toEqual({});
    expect((await client.list(upload)).status).toBe(404);
    await expect(storage.listParts(upload.key, upload.uploadId)).rejects.toMatchObject({ extensions: { s3Code: UPLOAD_GONE } });
    // A URL signed before the abort stores nothing now.
    const late = await fetch(signed.url, { method: 'PUT', body: bytes(10, 4) });
    await late.arrayBuffer();
    expect(late.status).toBe(404);
    expect(await storage.headObject(upload.key)).toBeNull();
  });

  it('an upload never completed is aborted by the sweep once its lease ends', async () => {
    const live = new LiveUploadsRepository(env.DB);
    const upload = await client.start('forgotten.bin', 'application/octet-stream');
    await client.putPart(upload, 1, bytes(1000, 5));
    expect(await sweepDirectUploads({ live }, storage, Date.now())).not.toContainEqual(upload);
    const later = Date.now() + parseConfig(env).tus.expirationMs + 1;
    expect(await sweepDirectUploads({ live }, storage, later)).toContainEqual(upload);
    await expect(storage.listParts(upload.key, upload.uploadId)).rejects.toMatchObject({ extensions: { s3Code: UPLOAD_GONE } });
    expect((await client.list(upload)).status).toBe(404);
  });

  it('a 64 MiB file in four parts sent four at a time: size, type and checksum from the bucket', async () => {
    const vars = { ...env, FILES_MAX_UPLOAD_SIZE: String(128 * MiB) };
    const data = bytes(64 * MiB, 64);
    const big = new DirectClient(ADMIN_TOKEN, vars);
    const done = await big.upload('big.bin', 'application/octet-stream', data, { partSize: 16 * MiB, inFlight: 4 });
    expect(done.status).toBe(200);
    const { data: record } = (await done.json()) as Completion;
    expect(record).toMatchObject({ filesize: String(64 * MiB), type: 'application/octet-stream', width: null, height: null });
    expect((await withChecksum(record.id, vars)).checksum).toBe(await sha256(data));
  });
});
