import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config';
import { S3Client } from '../../src/storage/s3-client';
import { ADMIN_TOKEN, bytes, errorOf, fixture, newToken } from '../helpers';
import { DirectClient, UPLOAD_GONE } from './direct-client';

/**
 * Only what the server issued: every refusal comes before any storage request, and leaves nothing
 * in the bucket (no object at the key, the upload itself untouched or gone as said).
 */
const MiB = 1024 * 1024;
const storage = new S3Client(parseConfig(env).defaultLocation);
let mine: DirectClient;
let theirs: DirectClient;

beforeAll(async () => {
  mine = new DirectClient((await newToken('upload')).token);
  theirs = new DirectClient((await newToken('upload')).token);
});

async function liveCount(): Promise<number> {
  return ((await env.DB.prepare('SELECT count(*) AS n FROM live_uploads WHERE direct IS NOT NULL').first<{ n: number }>())?.n ?? 0);
}

describe('direct uploads: only what the server issued', () => {
  it('an upload id the server did not issue (made at S3 directly) is a 404 on every route, and stays untouched', async () => {
    const key = `${crypto.randomUUID()}.bin`;
    const uploadId = await storage.createMultipartUpload(key);
    const part = await storage.uploadPart(key, uploadId, 1, bytes(100, 1));
    const foreign = { key, uploadId };
    for (const res of [await mine.sign(foreign, 1), await mine.list(foreign), await mine.complete(foreign, [{ PartNumber: 1, ETag: part.etag }]), await mine.abort(foreign)]) {
      expect(await errorOf(res)).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    }
    expect(await storage.headObject(key)).toBeNull();
    expect((await storage.listParts(key, uploadId)).map((p) => p.partNumber)).toEqual([1]);
    await storage.abortMultipartUpload(key, uploadId);
  });

  it('a key swapped for another upload\'s is a 404: nothing is signed, listed, completed or aborted', async () => {
    const a = await mine.start('a.bin', 'application/octet-stream');
    const b = await mine.start('b.bin', 'application/octet-stream');
    const partA = await mine.putPart(a, 1, bytes(100, 2));
    const swapped = { uploadId: a.uploadId, key: b.key };
    for (const res of [await mine.sign(swapped, 1), await mine.list(swapped), await mine.complete(swapped, [partA]), await mine.abort(swapped)]) {
      expect(await errorOf(res)).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    }
    expect(await storage.headObject(a.key)).toBeNull();
    expect(await storage.headObject(b.key)).toBeNull();
    expect((await mine.list(a)).status).toBe(200);
    await mine.abort(a);
    await mine.abort(b);
  });

  it('another token cannot sign, list, complete or abort an upload (403); an admin can abort it', async () => {
    const upload = await mine.start('mine.bin', 'application/octet-stream');
    const part = await mine.putPart(upload, 1, bytes(100, 3));
    for (const res of [await theirs.sign(upload, 2), await theirs.list(upload), await theirs.complete(upload, [part]), await theirs.abort(upload)]) {
      expect(await errorOf(res)).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    }
    expect(await storage.headObject(upload.key)).toBeNull();
    expect((await storage.listParts(upload.key, upload.uploadId)).length).toBe(1);
    const admin = new DirectClient(ADMIN_TOKEN);
    expect(await errorOf(await admin.complete(upload, [part]))).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    expect((await admin.abort(upload)).status).toBe(200);
    await expect(storage.listParts(upload.key, upload.uploadId)).rejects.toMatchObject({ extensions: { s3Code: UPLOAD_GONE } });
  });

  it('a read token, or none, starts and continues nothing', async () => {
    const reader = new DirectClient((await newToken('read')).token);
    const anonymous = new DirectClient(null);
    const before = await liveCount();
    const body = JSON.stringify({ filename: 'x.bin', type: 'application/octet-stream', metadata: {} });
    expect(await errorOf(await reader.call('/multipart', { method: 'POST', body }))).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    expect(await errorOf(await anonymous.call('/multipart', { method: 'POST', body }))).toMatchObject({ status: 401, code: 'INVALID_CREDENTIALS' });
    expect(await liveCount()).toBe(before);
    const upload = await mine.start('y.bin', 'application/octet-stream');
    expect(await errorOf(await reader.sign(upload, 1))).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    expect(await errorOf(await anonymous.list(upload))).toMatchObject({ status: 401, code: 'INVALID_CREDENTIALS' });
    await mine.abort(upload);
  });

  it('fields are checked when the upload starts: a folder that does not exist is refused before anything is created', async () => {
    const before = await liveCount();
    const res = await mine.call('/multipart', { method: 'POST', body: JSON.stringify({ filename: 'x.jpg', type: 'image/jpeg', metadata: { folder: crypto.randomUUID() } }) });
    expect(await errorOf(res)).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD', message: expect.stringContaining('"folder" names no folder') });
    const unknown = await mine.call('/multipart', { method: 'POST', body: JSON.stringify({ filename: 'x.jpg', metadata: { filesize: 1 } }) });
    expect(await errorOf(unknown)).toMatchObject({ status: 400, message: 'Field "filesize" is read-only.' });
    expect(await liveCount()).toBe(before);
  });

  it('a client\'s name never becomes a key', async () => {
    const upload = await mine.start('../../etc/passwd', 'text/plain');
    expect(upload.key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const odd = await mine.start('x.j/../pg', 'text/plain');
    expect(odd.key).toMatch(/^[0-9a-f-]{36}$/);
    await mine.abort(upload);
    await mine.abort(odd);
  });

  it('part numbers outside 1–10,000 are a 400', async () => {
    const upload = await mine.start('n.bin', 'application/octet-stream');
    for (const n of ['0', '10001', 'x', '-1']) expect(await errorOf(await mine.sign(upload, n))).toMatchObject({ status: 400 });
    await mine.abort(upload);
  });

  it('over FILES_MAX_UPLOAD_SIZE at completion: 413 naming it, the object deleted, the upload forgotten', async () => {
    const upload = await mine.start('big.bin', 'application/octet-stream');
    const parts = [await mine.putPart(upload, 1, bytes(16 * MiB, 7)), await mine.putPart(upload, 2, bytes(5 * MiB, 8))];
    const res = await mine.complete(upload, parts);
    expect(await errorOf(res)).toMatchObject({ status: 413, code: 'CONTENT_TOO_LARGE', message: expect.stringContaining('FILES_MAX_UPLOAD_SIZE') });
    expect(await storage.headObject(upload.key)).toBeNull();
    expect((await mine.list(upload)).status).toBe(404);
  });

  it('a type outside FILES_MIME_TYPE_ALLOW_LIST, sniffed from the bytes: 415, the object deleted', async () => {
    const images = new DirectClient(mine.token, { ...env, FILES_MIME_TYPE_ALLOW_LIST: 'image/*' });
    const upload = await images.start('cat.jpg', 'image/jpeg');
    const part = await images.putPart(upload, 1, fixture('doc.pdf'));
    const res = await images.complete(upload, [part]);
    expect(await errorOf(res)).toMatchObject({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: expect.stringContaining('application/pdf') });
    expect(await storage.headObject(upload.key)).toBeNull();
    const jpeg = await images.upload('ok.jpg', 'image/jpeg', fixture('photo-meta.jpg'));
    expect(jpeg.status).toBe(200);
  });

  it('GET /files/s3/params (Uppy\'s single PUT) refuses, naming shouldUseMultipart: true', async () => {
    const res = await mine.call('/params?filename=x.jpg&type=image/jpeg');
    expect(await errorOf(res)).toMatchObject({ status: 400, message: expect.stringContaining('shouldUseMultipart: true') });
  });
});
