import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { AwsClient } from 'aws4fetch';
import * as tus from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, STACK_TOKEN, startLocalStack } from '../scripts/local-stack.ts';
import { s3TargetFromEnv } from '../scripts/s3-target.ts';
import { bytes } from '../test/pseudo-random.ts';
import { type PartRecorder, startPartRecorder } from './part-recorder.ts';

const MiB = 1024 * 1024;
let stack: LocalStack;
let recorder: PartRecorder;
let cleanupBucket: (() => Promise<void>) | undefined;

beforeAll(async () => {
  const external = await s3TargetFromEnv(process.env);
  cleanupBucket = external?.cleanup;
  stack = await startLocalStack({
    ...(external ? { s3: external.target } : {}),
    storageEndpoint: async (s3) => {
      recorder = await startPartRecorder(s3.endpoint);
      return recorder.endpoint;
    },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await recorder?.close();
  await cleanupBucket?.();
});

function data(size: number, seed: number): Buffer {
  return Buffer.from(bytes(size, seed));
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

interface Done {
  fileId: string;
  url: string;
}

/** Starts an upload and stops it once `after` bytes are accepted (`terminate`: DELETE it too); the upload URL. */
function uploadPart(source: Buffer, chunkSize: number, after: number, terminate: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const u: tus.Upload = new tus.Upload(source, {
      endpoint: `${stack.base}/files/tus`,
      headers: { Authorization: `Bearer ${STACK_TOKEN}` },
      chunkSize,
      retryDelays: [],
      onError: reject,
      onChunkComplete: (_chunk, accepted) => {
        if (accepted >= after) u.abort(terminate).then(() => resolve(u.url ?? ''), reject);
      },
    });
    u.start();
  });
}

function upload(input: Buffer | Readable, options: Partial<tus.UploadOptions> = {}, onUpload?: (u: tus.Upload) => void): Promise<Done> {
  return new Promise((resolve, reject) => {
    const u = new tus.Upload(input, {
      endpoint: `${stack.base}/files/tus`,
      headers: { Authorization: `Bearer ${STACK_TOKEN}` },
      metadata: { filename: 'e2e.bin', filetype: 'application/octet-stream' },
      retryDelays: [],
      ...options,
      onError: reject,
      onSuccess: (payload) => resolve({ fileId: payload.lastResponse.getHeader('Directus-File-Id') ?? '', url: u.url ?? '' }),
    });
    onUpload?.(u);
    u.start();
  });
}

/** What landed in the bucket, read with a plain S3 client (not the Worker). */
async function stored(fileId: string): Promise<Buffer> {
  const record = (await (await fetch(`${stack.base}/files/${fileId}`, { headers: { Authorization: `Bearer ${STACK_TOKEN}` } })).json()) as {
    data: { filename_disk: string; filesize: string; checksum: string };
  };
  const s3 = new AwsClient({ accessKeyId: stack.s3.accessKeyId, secretAccessKey: stack.s3.secretAccessKey, region: stack.s3.region, service: 's3', retries: 0 });
  const res = await s3.fetch(`${stack.s3.endpoint}/${stack.s3.bucket}/${record.data.filename_disk}`);
  expect(res.status).toBe(200);
  const bytes = Buffer.from(await res.arrayBuffer());
  expect(record.data.filesize).toBe(String(bytes.byteLength));
  expect(record.data.checksum).toBe(sha256(bytes));
  return bytes;
}

/** The part sizes of the last completed multipart upload: all equal but the last. */
function expectEqualParts(sizes: number[] | undefined, part: number) {
  expect(sizes, 'a multipart upload completed').toBeDefined();
  const body = (sizes as number[]).slice(0, -1);
  expect(body.every((s) => s === part), `parts ${sizes?.join(',')}`).toBe(true);
}

describe('tus-js-client against the Worker (wrangler dev) and a real S3 server', () => {
  const file = data(13 * MiB + 12_345, 81);

  for (const chunkSize of [3 * MiB, 5 * MiB, 7 * MiB + 3]) {
    it(`chunk size ${chunkSize} bytes: byte-identical object, equal 5 MiB parts`, async () => {
      const before = recorder.completed.length;
      const done = await upload(file, { chunkSize });
      expect(sha256(await stored(done.fileId))).toBe(sha256(file));
      expect(recorder.completed.length).toBe(before + 1);
      expectEqualParts(recorder.completed.at(-1), 5 * MiB);
    });
  }

  it('unknown length (uploadLengthDeferred) from a stream', async () => {
    const source = data(11 * MiB + 77, 82);
    const done = await upload(Readable.from([source.subarray(0, 4 * MiB), source.subarray(4 * MiB)]), {
      uploadLengthDeferred: true,
      chunkSize: 4 * MiB,
    });
    expect(sha256(await stored(done.fileId))).toBe(sha256(source));
    expectEqualParts(recorder.completed.at(-1), 5 * MiB);
  });

  it('an upload aborted mid-way resumes from HEAD without resending what the server has', async () => {
    const source = data(12 * MiB + 5, 83);
    const url = await uploadPart(source, 2 * MiB, 6 * MiB, false);
    const head = await fetch(url, { method: 'HEAD', headers: { Authorization: `Bearer ${STACK_TOKEN}`, 'Tus-Resumable': '1.0.0' } });
    const offset = Number(head.headers.get('upload-offset'));
    expect(offset).toBeGreaterThanOrEqual(6 * MiB);

    let firstResumedOffset = -1;
    const done = await upload(source, {
      uploadUrl: url,
      chunkSize: 2 * MiB,
      onBeforeRequest: (req) => {
        if (req.getMethod() === 'PATCH' && firstResumedOffset < 0) firstResumedOffset = Number(req.getHeader('Upload-Offset'));
      },
    });
    expect(firstResumedOffset).toBe(offset);
    expect(sha256(await stored(done.fileId))).toBe(sha256(source));
  });

  // s3rver has no AbortMultipartUpload or ListMultipartUploads: this runs against real S3 servers.
  it.skipIf(!process.env.S3_TEST_ENDPOINT)('termination aborts the S3 multipart upload', async () => {
    const url = await uploadPart(data(12 * MiB, 87), 6 * MiB, 6 * MiB, true);
    const head = await fetch(url, { method: 'HEAD', headers: { Authorization: `Bearer ${STACK_TOKEN}`, 'Tus-Resumable': '1.0.0' } });
    expect(head.status).toBe(410);
    const s3 = new AwsClient({ accessKeyId: stack.s3.accessKeyId, secretAccessKey: stack.s3.secretAccessKey, region: stack.s3.region, service: 's3', retries: 0 });
    const pending = await (await s3.fetch(`${stack.s3.endpoint}/${stack.s3.bucket}?uploads`)).text();
    expect(pending).not.toContain('<Upload>');
  });

  it('three uploads in parallel', async () => {
    const sources = [data(6 * MiB + 1, 84), data(2 * MiB, 85), data(9 * MiB + 999, 86)];
    const results = await Promise.all(sources.map((s) => upload(s, { chunkSize: 3 * MiB })));
    for (const [i, r] of results.entries()) expect(sha256(await stored(r.fileId))).toBe(sha256(sources[i] as Buffer));
  });
});
