import { createHash } from 'node:crypto';
import http from 'node:http';
import { AwsClient } from 'aws4fetch';
import * as tus from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, STACK_TOKEN, startLocalStack } from '../scripts/local-stack.ts';
import { s3TargetFromEnv } from '../scripts/s3-target.ts';
import { bytes } from '../test/pseudo-random.ts';
import { type PartRecorder, startPartRecorder } from './part-recorder.ts';

/**
 * TUS at S3's scale, against `wrangler dev` and a real S3 server (s3rver here; Ceph RGW, directly
 * and behind the R2 rules proxy, in the real-S3 stage): parts streamed from PATCH bodies, parts open
 * across PATCHes, staged bytes, cuts in the middle of a part, deferred lengths, and concatenation.
 */
const MiB = 1024 * 1024;
const AUTH = { Authorization: `Bearer ${STACK_TOKEN}`, 'Tus-Resumable': '1.0.0' };
let stack: LocalStack;
let recorder: PartRecorder;
let external: Awaited<ReturnType<typeof s3TargetFromEnv>>;

beforeAll(async () => {
  external = await s3TargetFromEnv(process.env);
  stack = await startLocalStack({
    ...(external ? { s3: external.target } : {}),
    storageEndpoint: async (s3) => {
      recorder = await startPartRecorder(s3.endpoint);
      return recorder.endpoint;
    },
    moreLocations: ['big'],
    vars: {
      // The R2 rules proxy sizes parts by Content-Length, which a copied part does not have: there,
      // concatenation streams every part (as on stores without UploadPartCopy).
      ...(external?.target.profile === 'r2' ? { STORAGE_LOCAL_UPLOAD_PART_COPY: 'false' } : {}),
      STORAGE_BIG_TUS__CHUNK_SIZE: String(100 * MiB),
    },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await recorder?.close();
  await external?.cleanup();
});

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const metadata = (m: Record<string, string>) =>
  Object.entries(m)
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
    .join(',');

async function create(headers: Record<string, string>): Promise<string> {
  const res = await fetch(`${stack.base}/files/tus`, { method: 'POST', headers: { ...AUTH, ...headers } });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.headers.get('location') ?? '';
}

async function patch(url: string, offset: number, body: Uint8Array, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'PATCH',
    headers: { ...AUTH, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(offset), ...headers },
    body: body as Uint8Array<ArrayBuffer>,
  });
}

const offsetOf = async (url: string) => Number((await fetch(url, { method: 'HEAD', headers: AUTH })).headers.get('upload-offset'));

/** Sends `body` in PATCHes of `size` bytes from `from`; the last response. */
async function patchAll(url: string, body: Uint8Array, size: number, from = 0, last: Record<string, string> = {}): Promise<Response> {
  let res: Response | undefined;
  for (let at = from; at < body.byteLength; at += size) {
    const piece = body.subarray(at, Math.min(at + size, body.byteLength));
    res = await patch(url, at, piece, at + size >= body.byteLength ? last : {});
    expect(res.status, await res.clone().text()).toBe(204);
    expect(Number(res.headers.get('upload-offset'))).toBe(at + piece.byteLength);
  }
  return res as Response;
}

const s3 = () => new AwsClient({ accessKeyId: stack.s3.accessKeyId, secretAccessKey: stack.s3.secretAccessKey, region: stack.s3.region, service: 's3', retries: 0 });

interface FileRecord {
  id: string;
  filename_disk: string;
  filesize: string;
  checksum: string | null;
}

async function record(fileId: string): Promise<FileRecord> {
  const res = await fetch(`${stack.base}/files/${fileId}`, { headers: AUTH });
  return ((await res.json()) as { data: FileRecord }).data;
}

/** The object a file points to, read with a plain S3 client, equal to `expected`; its record's checksum too. */
async function expectStored(fileId: string, expected: Uint8Array): Promise<void> {
  const file = await record(fileId);
  const res = await s3().fetch(`${stack.s3.endpoint}/${stack.s3.bucket}/${file.filename_disk}`);
  expect(res.status).toBe(200);
  const got = new Uint8Array(await res.arrayBuffer());
  expect(got.byteLength).toBe(expected.byteLength);
  expect(sha256(got)).toBe(sha256(expected));
  expect(file.filesize).toBe(String(expected.byteLength));
  await expect.poll(async () => (await record(fileId)).checksum, { timeout: 30_000 }).toBe(sha256(expected));
}

/**
 * A final upload is assembled by its alarm after the POST answers: HEAD omits Upload-Offset until
 * it is done, then answers Upload-Offset = Upload-Length and the file's id.
 */
async function assembled(url: string): Promise<Response> {
  let head: Response | undefined;
  await expect
    .poll(async () => {
      head = await fetch(url, { method: 'HEAD', headers: AUTH });
      return head.status !== 200 || head.headers.has('upload-offset');
    }, { timeout: 60_000, interval: 200 })
    .toBe(true);
  return head as Response;
}

/** Staged bytes and partial objects left in the bucket (there should be none once uploads end). */
async function leftInUploads(): Promise<string[]> {
  const list = await (await s3().fetch(`${stack.s3.endpoint}/${stack.s3.bucket}?list-type=2&prefix=uploads/`)).text();
  return [...list.matchAll(/<Key>([\s\S]*?)<\/Key>/g)].map((m) => m[1] ?? '');
}

/** A PATCH whose connection is cut after `sendBytes` of its `body`. */
function cutPatch(url: string, offset: number, body: Uint8Array, sendBytes: number): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request(url, {
      method: 'PATCH',
      headers: { ...AUTH, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(offset), 'Content-Length': String(body.byteLength) },
    });
    req.on('error', () => resolve());
    req.on('response', (res) => {
      res.resume();
      resolve();
    });
    let at = 0;
    const pump = () => {
      while (at < sendBytes) {
        const end = Math.min(at + MiB, sendBytes);
        const more = req.write(body.subarray(at, end));
        at = end;
        if (!more) return void req.once('drain', pump);
      }
      setTimeout(() => req.destroy(), 200);
    };
    pump();
  });
}

/** Waits until the upload takes requests again (a cut PATCH may still be finishing in its Durable Object). */
async function settled(url: string): Promise<number> {
  let offset = -1;
  await expect
    .poll(
      async () => {
        offset = await offsetOf(url);
        return (await patch(url, offset, new Uint8Array(0))).status;
      },
      { timeout: 30_000 },
    )
    .toBe(204);
  return offset;
}

describe('streamed parts', () => {
  it('320 MiB with 100 MiB parts from 48 MiB PATCHes: byte-identical, every non-final part exactly 100 MiB, nothing staged left', async () => {
    const data = bytes(320 * MiB, 171);
    const url = await create({ 'Upload-Length': String(data.byteLength), 'Upload-Metadata': metadata({ filename: 'big.bin', storage: 'big' }) });
    const before = recorder.completed.length;
    const res = await patchAll(url, data, 48 * MiB);
    expect(recorder.completed.length).toBe(before + 1);
    expect(recorder.completed.at(-1)).toEqual([100 * MiB, 100 * MiB, 100 * MiB, 20 * MiB]);
    await expectStored(res.headers.get('directus-file-id') ?? '', data);
    expect(await leftInUploads()).toEqual([]);
  });

  it('a PATCH cut in the middle of a streamed part keeps the parts before it; the resend completes the upload', async () => {
    const data = bytes(250 * MiB + 3, 172);
    const url = await create({ 'Upload-Length': String(data.byteLength), 'Upload-Metadata': metadata({ filename: 'cut.bin', storage: 'big' }) });
    await cutPatch(url, 0, data, 160 * MiB);
    // Part 1 was in storage when the cut came 60 MiB into part 2: that part's bytes are lost, not the first.
    expect(await settled(url)).toBe(100 * MiB);
    const res = await patch(url, 100 * MiB, data.subarray(100 * MiB));
    expect(res.status).toBe(204);
    expect(recorder.completed.at(-1)).toEqual([100 * MiB, 100 * MiB, 50 * MiB + 3]);
    await expectStored(res.headers.get('directus-file-id') ?? '', data);
  });

  it('250 MiB with 100 MiB parts from 30 MiB PATCHes: each part fed by four PATCHes, equal parts, nothing staged', async () => {
    const data = bytes(250 * MiB, 175);
    const url = await create({ 'Upload-Length': String(data.byteLength), 'Upload-Metadata': metadata({ filename: 'thirty.bin', storage: 'big' }) });
    const res = await patchAll(url, data, 30 * MiB);
    expect(recorder.completed.at(-1)).toEqual([100 * MiB, 100 * MiB, 50 * MiB]);
    await expectStored(res.headers.get('directus-file-id') ?? '', data);
    expect(await leftInUploads()).toEqual([]);
  });

  it('a PATCH cut while it feeds a part open across PATCHes costs that part: HEAD answers its start, and the resend from there completes', async () => {
    const data = bytes(230 * MiB + 9, 176);
    const url = await create({ 'Upload-Length': String(data.byteLength), 'Upload-Metadata': metadata({ filename: 'open-cut.bin', storage: 'big' }) });
    await patchAll(url, data.subarray(0, 144 * MiB), 48 * MiB);
    // Part 1 landed; 44 MiB of part 2 are in its open UploadPart, counted while it lives.
    expect(await offsetOf(url)).toBe(144 * MiB);
    await cutPatch(url, 144 * MiB, data.subarray(144 * MiB), 20 * MiB);
    expect(await settled(url)).toBe(100 * MiB);
    const res = await patchAll(url, data, 48 * MiB, 100 * MiB);
    expect(recorder.completed.at(-1)).toEqual([100 * MiB, 100 * MiB, 30 * MiB + 9]);
    await expectStored(res.headers.get('directus-file-id') ?? '', data);
  });

  it('a client that resumes at the start of the open part restarts it (a PATCH at the committed offset)', async () => {
    const data = bytes(130 * MiB, 177);
    const url = await create({ 'Upload-Length': String(data.byteLength), 'Upload-Metadata': metadata({ filename: 'restart.bin', storage: 'big' }) });
    await patchAll(url, data.subarray(0, 60 * MiB), 30 * MiB);
    expect(await offsetOf(url)).toBe(60 * MiB);
    // A PATCH anywhere else is a conflict naming the offset to send from.
    const wrong = await patch(url, 10 * MiB, data.subarray(10 * MiB, 11 * MiB));
    expect(wrong.status).toBe(409);
    const res = await patchAll(url, data, 40 * MiB);
    expect(recorder.completed.at(-1)).toEqual([100 * MiB, 30 * MiB]);
    await expectStored(res.headers.get('directus-file-id') ?? '', data);
  });

  it('a deferred-length PATCH cut while its bytes are being staged resumes from the last staged byte', async () => {
    const data = bytes(12 * MiB + 5, 173);
    const url = await create({ 'Upload-Defer-Length': '1', 'Upload-Metadata': metadata({ filename: 'staged.bin', storage: 'big' }) });
    await patchAll(url, data.subarray(0, 3 * MiB), 3 * MiB);
    await cutPatch(url, 3 * MiB, data.subarray(3 * MiB), 6 * MiB);
    expect(await settled(url)).toBe(3 * MiB);
    const res = await patch(url, 3 * MiB, data.subarray(3 * MiB), { 'Upload-Length': String(data.byteLength) });
    expect(res.status).toBe(204);
    await expectStored(res.headers.get('directus-file-id') ?? '', data);
    expect(await leftInUploads()).toEqual([]);
  });

  it('a deferred length with streamed parts: the last PATCH names the length', async () => {
    const data = bytes(31 * MiB + 123, 174);
    const url = await create({ 'Upload-Defer-Length': '1', 'Upload-Metadata': metadata({ filename: 'deferred.bin' }) });
    const res = await patchAll(url, data, 12 * MiB, 0, { 'Upload-Length': String(data.byteLength) });
    const sizes = recorder.completed.at(-1) ?? [];
    expect(sizes.slice(0, -1).every((s) => s === 5 * MiB)).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(data.byteLength);
    await expectStored(res.headers.get('directus-file-id') ?? '', data);
  });
});

describe('concatenation', () => {
  it('partial uploads of unaligned sizes make one file: aligned parts copied inside the store, the others streamed', async () => {
    const sizes = [7 * MiB + 1, 13 * MiB + 5, 3 * MiB + 7];
    const pieces = sizes.map((n, i) => bytes(n, 180 + i));
    const whole = Buffer.concat(pieces);
    const urls: string[] = [];
    for (const piece of pieces) {
      const url = await create({ 'Upload-Length': String(piece.byteLength), 'Upload-Concat': 'partial' });
      await patchAll(url, piece, 4 * MiB);
      const head = await fetch(url, { method: 'HEAD', headers: AUTH });
      expect(head.headers.get('upload-concat')).toBe('partial');
      urls.push(url);
    }
    const copiesBefore = recorder.copies;
    const res = await fetch(`${stack.base}/files/tus`, {
      method: 'POST',
      headers: { ...AUTH, 'Upload-Concat': `final;${urls.map((u) => new URL(u).pathname).join(' ')}`, 'Upload-Metadata': metadata({ filename: 'joined.bin' }) },
    });
    expect(res.status, await res.clone().text()).toBe(201);
    expect(res.headers.has('upload-offset')).toBe(false);
    const final = res.headers.get('location') ?? '';
    const head = await assembled(final);
    expect(head.status).toBe(200);
    expect(head.headers.get('upload-offset')).toBe(String(whole.byteLength));
    expect(head.headers.get('upload-length')).toBe(String(whole.byteLength));
    const fileId = head.headers.get('directus-file-id') ?? '';
    expect(head.headers.get('upload-concat')).toMatch(/^final;/);
    // P = 5 MiB over 23 MiB + 13: parts 1, 3 and 4 lie inside one partial upload, parts 2 and 5 span two.
    expect(recorder.completed.at(-1)).toEqual([5 * MiB, 5 * MiB, 5 * MiB, 5 * MiB, 3 * MiB + 13]);
    if (external && external.target.profile !== 'r2') expect(recorder.copies - copiesBefore).toBe(3);
    await expectStored(fileId, whole);
    // The partial uploads were used up: their objects are gone.
    for (const url of urls) expect((await fetch(url, { method: 'HEAD', headers: AUTH })).status).toBe(410);
    expect(await leftInUploads()).toEqual([]);
  });

  it('refuses a final upload of unfinished, foreign or non-partial uploads, and PATCHes to a final upload', async () => {
    const unfinished = await create({ 'Upload-Length': '10', 'Upload-Concat': 'partial' });
    const plain = await create({ 'Upload-Length': '10' });
    for (const list of [unfinished, plain, `${stack.base}/files/tus/${'0'.repeat(64)}`, 'not a url']) {
      const res = await fetch(`${stack.base}/files/tus`, { method: 'POST', headers: { ...AUTH, 'Upload-Concat': `final;${list}` } });
      expect(res.status, list).toBe(400);
    }
    const res = await fetch(`${stack.base}/files/tus`, { method: 'POST', headers: { ...AUTH, 'Upload-Concat': `final;${unfinished}`, 'Upload-Length': '10' } });
    expect(res.status).toBe(400);
  });

  it('tus-js-client with parallelUploads: 3, byte-identical', async () => {
    const data = Buffer.from(bytes(26 * MiB + 321, 190));
    // tus-js-client succeeds on the final POST's 201 (it reads only Location): the file id comes
    // from HEAD on that upload URL once the assembly has finished.
    const url = await new Promise<string>((resolve, reject) => {
      const u = new tus.Upload(data, {
        endpoint: `${stack.base}/files/tus`,
        headers: { Authorization: `Bearer ${STACK_TOKEN}` },
        metadata: { filename: 'parallel.bin', filetype: 'application/octet-stream' },
        parallelUploads: 3,
        retryDelays: [],
        onError: reject,
        onSuccess: (payload) => {
          expect(payload.lastResponse.getHeader('Directus-File-Id')).toBeFalsy();
          resolve(u.url ?? '');
        },
      });
      u.start();
    });
    const fileId = (await assembled(url)).headers.get('directus-file-id') ?? '';
    expect(fileId).toMatch(/^[0-9a-f-]{36}$/);
    await expectStored(fileId, data);
  });
});
