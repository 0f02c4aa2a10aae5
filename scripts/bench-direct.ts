/**
 * The `direct` bench case: 256 MiB sent to the bucket through the Worker's presigned part URLs
 * (Uppy's AwsS3 protocol under /files/s3, 4 parts in flight) against a multipart upload of the same
 * bytes and part size signed here with the credentials (SigV4), also 4 in flight: ratio (target ≥ 0.9).
 * And the completion: the time from `complete` to the record, beside the store's own
 * CompleteMultipartUpload and one ranged read of 256 KiB (target: under 100 ms plus one ranged read
 * more than the store's completion), and how long the background checksum takes per GiB.
 */
import { AwsClient } from 'aws4fetch';
import { type LocalStack, STACK_TOKEN } from './local-stack.ts';

const MiB = 1024 * 1024;
const PART = 16 * MiB;
const IN_FLIGHT = 4;
const auth = { authorization: `Bearer ${STACK_TOKEN}` };

interface Part {
  PartNumber: number;
  ETag: string;
}

/** PUTs every part of `data` to the URL `urlFor` gives, `IN_FLIGHT` at a time. */
async function putParts(data: Buffer, urlFor: (n: number) => Promise<Request>): Promise<Part[]> {
  const count = Math.ceil(data.byteLength / PART);
  const queue = Array.from({ length: count }, (_, i) => i + 1);
  const parts: Part[] = [];
  const worker = async () => {
    for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
      const at = (n - 1) * PART;
      const request = await urlFor(n);
      const res = await fetch(request, { body: new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset + at, Math.min(PART, data.byteLength - at)) });
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`PUT part ${n}: ${res.status}`);
      parts.push({ PartNumber: n, ETag: res.headers.get('etag') ?? '' });
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return parts.sort((a, b) => a.PartNumber - b.PartNumber);
}

async function json<T>(res: Response): Promise<T> {
  if (!res.ok) throw new Error(`${res.url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** The baseline: the same parts signed here, straight to the S3 server; its completion's time. */
async function signedHere(stack: LocalStack, data: Buffer, key: string): Promise<{ completeMs: number }> {
  const { s3 } = stack;
  const aws = new AwsClient({ accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, region: s3.region, service: 's3', retries: 0 });
  const url = `${s3.endpoint}/${s3.bucket}/${key}`;
  const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(await (await aws.fetch(`${url}?uploads`, { method: 'POST' })).text())?.[1] ?? '';
  const parts = await putParts(data, (n) => aws.sign(`${url}?partNumber=${n}&uploadId=${encodeURIComponent(uploadId)}`, { method: 'PUT' }));
  const started = performance.now();
  const done = await aws.fetch(`${url}?uploadId=${encodeURIComponent(uploadId)}`, {
    method: 'POST',
    body: `<CompleteMultipartUpload>${parts.map((p) => `<Part><PartNumber>${p.PartNumber}</PartNumber><ETag>${p.ETag}</ETag></Part>`).join('')}</CompleteMultipartUpload>`,
  });
  await done.text();
  if (!done.ok) throw new Error(`CompleteMultipartUpload: ${done.status}`);
  const completeMs = performance.now() - started;
  const ranged = await aws.fetch(url, { headers: { range: 'bytes=0-262143' } });
  await ranged.arrayBuffer();
  return { completeMs };
}

/** Through the Worker: create, a presigned URL per part, complete; the completion's time and the file's id. */
async function presigned(stack: LocalStack, data: Buffer): Promise<{ completeMs: number; completedAt: number; id: string }> {
  const headers = { ...auth, 'content-type': 'application/json' };
  const upload = await json<{ key: string; uploadId: string }>(
    await fetch(`${stack.base}/files/s3/multipart`, { method: 'POST', headers, body: JSON.stringify({ filename: 'bench.bin', type: 'application/octet-stream', metadata: {} }) }),
  );
  const path = `${stack.base}/files/s3/multipart/${encodeURIComponent(upload.uploadId)}`;
  const q = `?key=${encodeURIComponent(upload.key)}`;
  const parts = await putParts(data, async (n) => new Request((await json<{ url: string }>(await fetch(`${path}/${n}${q}`, { headers: auth }))).url, { method: 'PUT' }));
  const started = performance.now();
  const done = await json<{ data: { id: string } }>(await fetch(`${path}/complete${q}`, { method: 'POST', headers, body: JSON.stringify({ parts }) }));
  const completedAt = performance.now();
  return { completeMs: completedAt - started, completedAt, id: done.data.id };
}

/** One ranged read of 256 KiB of an object, as the completion makes. */
async function rangedReadMs(stack: LocalStack, key: string): Promise<number> {
  const { s3 } = stack;
  const aws = new AwsClient({ accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, region: s3.region, service: 's3', retries: 0 });
  const started = performance.now();
  await (await aws.fetch(`${s3.endpoint}/${s3.bucket}/${key}`, { headers: { range: 'bytes=0-262143' } })).arrayBuffer();
  return performance.now() - started;
}

/** Milliseconds until the record shows its checksum. */
async function checksumMs(stack: LocalStack, id: string, since: number): Promise<number> {
  for (;;) {
    const { data } = await json<{ data: { checksum: string | null } }>(await fetch(`${stack.base}/files/${id}`, { headers: auth }));
    if (data.checksum) return performance.now() - since;
    if (performance.now() - since > 600_000) throw new Error('no checksum after 10 minutes');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

export async function direct(stack: LocalStack, rounds: number): Promise<Record<string, unknown>> {
  const size = 256 * MiB;
  const data = Buffer.alloc(size, 7);
  const here: number[] = [];
  const worker: number[] = [];
  const hereComplete: number[] = [];
  const workerComplete: number[] = [];
  const ranged: number[] = [];
  const checksum: number[] = [];
  for (let i = 0; i < rounds; i++) {
    let started = performance.now();
    const baseline = await signedHere(stack, data, `bench-direct-${i}-${Date.now()}`);
    here.push(size / ((performance.now() - started) / 1000));
    hereComplete.push(baseline.completeMs);
    started = performance.now();
    const ours = await presigned(stack, data);
    worker.push(size / ((performance.now() - started) / 1000));
    workerComplete.push(ours.completeMs);
    const record = await json<{ data: { filename_disk: string } }>(await fetch(`${stack.base}/files/${ours.id}`, { headers: auth }));
    ranged.push(await rangedReadMs(stack, record.data.filename_disk));
    checksum.push(await checksumMs(stack, ours.id, ours.completedAt));
  }
  const mibs = (x: number) => +(x / MiB).toFixed(1);
  return {
    upload_mib: 256,
    part_mib: PART / MiB,
    in_flight: IN_FLIGHT,
    signed_here_mib_s: mibs(median(here)),
    presigned_mib_s: mibs(median(worker)),
    ratio: +(median(worker) / median(here)).toFixed(3),
    target_ratio: 0.9,
    store_complete_ms: +median(hereComplete).toFixed(1),
    complete_to_record_ms: +median(workerComplete).toFixed(1),
    ranged_read_256kib_ms: +median(ranged).toFixed(1),
    record_overhead_ms: +(median(workerComplete) - median(hereComplete)).toFixed(1),
    target_record_overhead_ms: `< 100 + ${median(ranged).toFixed(1)}`,
    checksum_after_record_s_per_gib: +((median(checksum) / 1000) * (1024 / 256)).toFixed(2),
  };
}
