/**
 * The S3 server that tests and `npm start` talk to: the embedded s3rver by default, or any S3
 * endpoint given by S3_TEST_ENDPOINT (Ceph RGW, the R2 rules proxy, MinIO, a real bucket).
 * Runs in Node.
 */
import crypto, { randomBytes } from 'node:crypto';
import { AwsClient } from 'aws4fetch';
import S3rver from 's3rver';
import type { S3Target } from './s3-target-type.ts';

export type { S3Target } from './s3-target-type.ts';


/** s3rver's fixed credentials (it checks signatures against them). */
export const S3RVER_KEY = 'S3RVER';

/**
 * s3rver 3.7 encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 (Node >= 17) no
 * longer offers, so every second page of a listing fails with InternalError. The token is opaque to
 * clients; any invertible cipher will do, so `des` is mapped onto AES-128-CBC here. Test-only.
 */
function allowS3rverContinuationTokens(): void {
  const widen = (b: crypto.BinaryLike) => Buffer.concat([Buffer.from(b as Uint8Array), Buffer.from(b as Uint8Array)]);
  const { createCipheriv, createDecipheriv } = crypto;
  if ((createCipheriv as { s3rverShim?: boolean }).s3rverShim) return;
  const cipher = ((alg: string, key: crypto.BinaryLike, iv: crypto.BinaryLike) =>
    alg === 'des' ? createCipheriv('aes-128-cbc', widen(key), widen(iv)) : createCipheriv(alg, key, iv)) as typeof createCipheriv;
  const decipher = ((alg: string, key: crypto.BinaryLike, iv: crypto.BinaryLike) =>
    alg === 'des' ? createDecipheriv('aes-128-cbc', widen(key), widen(iv)) : createDecipheriv(alg, key, iv)) as typeof createDecipheriv;
  Object.assign(cipher, { s3rverShim: true });
  crypto.createCipheriv = cipher;
  crypto.createDecipheriv = decipher;
}

export async function startS3rver(options: { port: number; directory: string; bucket: string; silent?: boolean }) {
  allowS3rverContinuationTokens();
  const server = new S3rver({
    port: options.port,
    address: '127.0.0.1',
    silent: options.silent ?? true,
    directory: options.directory,
    configureBuckets: [{ name: options.bucket, configs: [] }],
  });
  const { port } = await server.run();
  const target: S3Target = {
    endpoint: `http://127.0.0.1:${port}`,
    bucket: options.bucket,
    accessKeyId: S3RVER_KEY,
    secretAccessKey: S3RVER_KEY,
    region: 'us-east-1',
    lenient: true,
    profile: 's3',
  };
  return { target, close: () => server.close() };
}

/**
 * An external S3 endpoint from S3_TEST_ENDPOINT, S3_TEST_ACCESS_KEY, S3_TEST_SECRET_KEY,
 * S3_TEST_REGION (default us-east-1) and S3_TEST_PROFILE (`s3` or `r2`). A fresh bucket is created
 * for the run and emptied and deleted afterwards.
 */
export async function s3TargetFromEnv(env: NodeJS.ProcessEnv): Promise<{ target: S3Target; cleanup: () => Promise<void> } | undefined> {
  const endpoint = env.S3_TEST_ENDPOINT;
  if (!endpoint) return undefined;
  const accessKeyId = env.S3_TEST_ACCESS_KEY;
  const secretAccessKey = env.S3_TEST_SECRET_KEY;
  if (!accessKeyId || !secretAccessKey) throw new Error('S3_TEST_ENDPOINT needs S3_TEST_ACCESS_KEY and S3_TEST_SECRET_KEY');
  const region = env.S3_TEST_REGION ?? 'us-east-1';
  const bucket = env.S3_TEST_BUCKET ?? `edge-assets-test-${randomBytes(4).toString('hex')}`;
  const aws = new AwsClient({ accessKeyId, secretAccessKey, region, service: 's3', retries: 0 });
  const base = `${endpoint.replace(/\/$/, '')}/${bucket}`;
  const created = await aws.fetch(base, { method: 'PUT' });
  if (!created.ok && created.status !== 409) throw new Error(`CreateBucket ${bucket} at ${endpoint}: ${created.status} ${await created.text()}`);
  const target: S3Target = {
    endpoint,
    bucket,
    accessKeyId,
    secretAccessKey,
    region,
    lenient: false,
    profile: env.S3_TEST_PROFILE === 'r2' ? 'r2' : 's3',
  };
  return { target, cleanup: () => emptyAndDeleteBucket(aws, base) };
}

async function emptyAndDeleteBucket(aws: AwsClient, base: string): Promise<void> {
  for (;;) {
    const list = await (await aws.fetch(`${base}?list-type=2`)).text();
    const keys = [...list.matchAll(/<Key>([\s\S]*?)<\/Key>/g)].map((m) => m[1] ?? '');
    if (keys.length === 0) break;
    for (const key of keys) {
      const raw = key.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'");
      await aws.fetch(`${base}/${raw.split('/').map(encodeURIComponent).join('/')}`, { method: 'DELETE' });
    }
  }
  const uploads = await (await aws.fetch(`${base}?uploads`)).text();
  for (const m of uploads.matchAll(/<Upload>[\s\S]*?<Key>([\s\S]*?)<\/Key>[\s\S]*?<UploadId>([\s\S]*?)<\/UploadId>/g)) {
    await aws.fetch(`${base}/${(m[1] ?? '').split('/').map(encodeURIComponent).join('/')}?uploadId=${encodeURIComponent(m[2] ?? '')}`, { method: 'DELETE' });
  }
  await aws.fetch(base, { method: 'DELETE' });
}
