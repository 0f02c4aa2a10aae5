/**
 * `npm run bench`: measures the Worker against a baseline in the same run (the machine is noisy, so
 * only ratios mean something). Starts its own s3rver and `wrangler dev` on free loopback ports with
 * throwaway state, and prints a JSON report. `BENCH_CASES=originals,uploads,direct,thumbnails,memory,hotpath,budget,tus,webhooks,bytes,bigimg,tiff` picks cases.
 *
 * originals: a 256 MiB object streamed from /assets/:id vs a direct GET of the same object from the
 *   same S3 server — throughput ratio (target ≥ 0.8) — and workerd's peak RSS while serving 16 MiB
 *   and 256 MiB objects (target: independent of size).
 * uploads: 256 MiB with tus-js-client through the Worker vs a direct S3 multipart upload of the same
 *   bytes with the same part size, for 5 MiB and 100 MiB parts: sequential PATCHes of at least P
 *   (target ≥ 0.8), parallelUploads: 4, and PATCHes below P (all staged) — and workerd's peak RSS
 *   growth during each (target: 100 MiB parts within 32 MiB of 5 MiB parts).
 * thumbnails: cache-miss time over HTTP of 1800×1200 JPEG → 200×200 cover, 12 MP baseline and
 *   progressive JPEG → 400 px, 24 MP PNG → 300 px, against sharp (libvips, in Node) on the same bytes
 *   (target ≤ 2.5×), beside a direct S3 GET of the source (storage's share); the engine alone in this
 *   process against sharp (target ≤ 2×); and an edge-cache hit against a direct GET of an object of
 *   the same size from the S3 server (target: faster).
 * memory: workerd's RSS growth across a mixed sequence of those misses (target: inside 128 MB).
 * hotpath: requests per second at 16 connections (autocannon) of edge-cache hits — a thumbnail, a
 *   670 KB and a 16 MiB original — against the Worker's cheapest answer, an unknown route's 404
 *   (targets ≥ 0.8 and ≥ 0.5), with the S3 requests each hit run sent (target: none).
 * direct: 256 MiB through the Worker's presigned part URLs against parts signed with the credentials,
 *   and the time from `complete` to the record (scripts/bench-direct.ts).
 * tus: PATCH sizes against part sizes, 256 MiB and 1 GiB, fresh workerd per case (scripts/bench-tus.ts).
 * budget: the worst case of each class of unbounded work (scripts/bench-budget/*.ts, one file a class:
 *   hostile images, transform chains, concatenation, lists), each request's time and workerd's peak
 *   RSS growth, on one stack. Run it on an older commit with the same files for "before".
 */
import { AwsClient } from 'aws4fetch';
import autocannon from 'autocannon';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import * as tus from 'tus-js-client';
import type { BudgetCase } from './bench-budget-case.ts';
import { benchBytes } from './bench-bytes.ts';
import { benchSvg } from './bench-svg.ts';
import { direct } from './bench-direct.ts';
import tusBench from './bench-tus.ts';
import { loadEngine } from './bundle-engine.ts';
import { benchWebhooks } from './bench-webhooks.ts';
import { benchBigimg } from './bench-bigimg.ts';
import { benchTiff } from './bench-tiff.ts';
import { startFaultProxy } from './fault-proxy.ts';
import { hwmOf, type LocalStack, rssOf, STACK_TOKEN, startLocalStack } from './local-stack.ts';

const MiB = 1024 * 1024;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CASES = (process.env.BENCH_CASES ?? 'originals,uploads,direct,thumbnails,memory,hotpath,budget,tus,webhooks,bytes,svg,tiff').split(',');
const auth = { authorization: `Bearer ${STACK_TOKEN}` };

/**
 * Runs `fn` and returns its result, the process's RSS before, and its peak RSS during `fn`: the
 * kernel's high-water mark (VmHWM, reset through /proc/<pid>/clear_refs) where this user may reset
 * it, else RSS sampled every 20 ms (which can miss a short peak).
 */
async function withPeakRss<T>(pid: number, fn: () => Promise<T>): Promise<{ result: T; before: number; peak: number }> {
  const before = rssOf(pid);
  let exact = true;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    exact = false;
  }
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 20);
  try {
    const result = await fn();
    return { result, before, peak: Math.max(peak, rssOf(pid), exact ? hwmOf(pid) : 0) };
  } finally {
    clearInterval(timer);
  }
}

async function timed(fn: () => Promise<unknown>, bytes: number): Promise<number> {
  const started = performance.now();
  await fn();
  return bytes / ((performance.now() - started) / 1000);
}

/** Downloads a URL to nowhere, checking the length. */
async function download(url: string, expected: number): Promise<void> {
  const res = await fetch(url);
  if (!res.ok || !res.body) throw new Error(`GET ${url}: ${res.status}`);
  let n = 0;
  for await (const chunk of res.body) n += chunk.byteLength;
  if (n !== expected) throw new Error(`GET ${url}: ${n} bytes, expected ${expected}`);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const mib = (n: number) => +(n / MiB).toFixed(1);

async function postFile(stack: LocalStack, size: number, bytes?: Uint8Array): Promise<{ id: string; filename_disk: string }> {
  const form = new FormData();
  // Binary (NUL bytes), like the videos this case is about: text would be sniffed as text/plain and compressed on the way out.
  form.append('file', new Blob([(bytes ?? new Uint8Array(size)) as Uint8Array<ArrayBuffer>]), `bench-${size}.bin`);
  const res = await fetch(`${stack.base}/files`, { method: 'POST', body: form, headers: auth });
  if (!res.ok) throw new Error(`upload: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { data: { id: string; filename_disk: string } }).data;
}

async function originals(stack: LocalStack) {
  const big = 256 * MiB;
  const small = await postFile(stack, 16 * MiB);
  const large = await postFile(stack, big);
  const direct: number[] = [];
  const worker: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    direct.push(await timed(() => download(`${stack.s3.endpoint}/${stack.s3.bucket}/${large.filename_disk}`, big), big));
    worker.push(await timed(() => download(`${stack.base}/assets/${large.id}`, big), big));
  }
  const idle = rssOf(stack.workerdPid);
  const peakSmall = await withPeakRss(stack.workerdPid, () => download(`${stack.base}/assets/${small.id}`, 16 * MiB));
  const peakLarge = await withPeakRss(stack.workerdPid, () => download(`${stack.base}/assets/${large.id}`, big));
  return {
    object_mib: 256,
    direct_mib_s: mib(median(direct)),
    worker_mib_s: mib(median(worker)),
    throughput_ratio: +(median(worker) / median(direct)).toFixed(3),
    target_ratio: 0.8,
    workerd_rss_idle_mib: mib(idle),
    workerd_peak_rss_16mib_object_mib: mib(peakSmall.peak),
    workerd_peak_rss_256mib_object_mib: mib(peakLarge.peak),
    peak_difference_mib: mib(peakLarge.peak - peakSmall.peak),
  };
}

interface TusOptions {
  /** PATCH size (tus-js-client's chunkSize). */
  chunkSize: number;
  /** The storage location: `local` has 5 MiB parts, `big` 100 MiB. */
  storage: 'local' | 'big';
  parallelUploads?: number;
}

function tusUpload(stack: LocalStack, data: Buffer, o: TusOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    new tus.Upload(data, {
      endpoint: `${stack.base}/files/tus`,
      headers: { Authorization: `Bearer ${STACK_TOKEN}` },
      chunkSize: o.chunkSize,
      ...(o.parallelUploads ? { parallelUploads: o.parallelUploads } : {}),
      retryDelays: [],
      metadata: { filename: 'bench.bin', storage: o.storage },
      onError: reject,
      onSuccess: () => resolve(),
    }).start();
  });
}

/** The baseline: the same bytes as a multipart upload of `P`-byte parts, straight to the S3 server. */
async function directMultipart(stack: LocalStack, data: Buffer, key: string, P: number): Promise<void> {
  const { s3 } = stack;
  const aws = new AwsClient({ accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, region: s3.region, service: 's3', retries: 0 });
  const url = `${s3.endpoint}/${s3.bucket}/${key}`;
  const created = await (await aws.fetch(`${url}?uploads`, { method: 'POST' })).text();
  const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created)?.[1] ?? '';
  const parts: string[] = [];
  for (let at = 0, n = 1; at < data.byteLength; at += P, n++) {
    const res = await aws.fetch(`${url}?partNumber=${n}&uploadId=${encodeURIComponent(uploadId)}`, { method: 'PUT', body: new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset + at, Math.min(P, data.byteLength - at)) });
    parts.push(`<Part><PartNumber>${n}</PartNumber><ETag>${res.headers.get('etag')}</ETag></Part>`);
  }
  const done = await aws.fetch(`${url}?uploadId=${encodeURIComponent(uploadId)}`, {
    method: 'POST',
    body: `<CompleteMultipartUpload>${parts.join('')}</CompleteMultipartUpload>`,
  });
  if (!done.ok) throw new Error(`CompleteMultipartUpload: ${done.status}`);
}

/** A stack with two locations: `local` (5 MiB parts) and `big` (100 MiB parts). */
function uploadStack(): Promise<LocalStack> {
  return startLocalStack({ moreLocations: ['big'], vars: { STORAGE_BIG_TUS__CHUNK_SIZE: String(100 * MiB) } });
}

/**
 * 256 MiB through TUS against a direct multipart upload with the same part size, for parts of 5 MiB
 * and 100 MiB: PATCHes of at least P (every part streams from the body), tus-js-client's
 * parallelUploads (concatenation), and PATCHes smaller than P (every byte staged and read back). The
 * peak RSS of workerd during each TUS upload.
 */
async function uploads(stack: LocalStack) {
  const size = 256 * MiB;
  const data = Buffer.alloc(size, 9);
  const variants: { name: string; P: number; tus: TusOptions }[] = [
    { name: 'p5_patch50', P: 5 * MiB, tus: { chunkSize: 50 * MiB, storage: 'local' } },
    { name: 'p5_parallel4', P: 5 * MiB, tus: { chunkSize: 50 * MiB, storage: 'local', parallelUploads: 4 } },
    { name: 'p100_patch100', P: 100 * MiB, tus: { chunkSize: 100 * MiB, storage: 'big' } },
    { name: 'p100_patch50_staged', P: 100 * MiB, tus: { chunkSize: 50 * MiB, storage: 'big' } },
  ];
  const direct = new Map<number, number[]>();
  const worker = new Map<string, number[]>();
  for (let i = 0; i < ROUNDS; i++) {
    for (const P of new Set(variants.map((v) => v.P))) {
      direct.set(P, [...(direct.get(P) ?? []), await timed(() => directMultipart(stack, data, `bench-direct-${P}-${i}`, P), size)]);
    }
    for (const v of variants) worker.set(v.name, [...(worker.get(v.name) ?? []), await timed(() => tusUpload(stack, data, v.tus), size)]);
  }
  // Peaks in a fresh workerd each: memory freed by an earlier upload is reused without raising the
  // high-water mark, so one process would show only the first variant's peak.
  const peaks = new Map<string, { before: number; peak: number }>();
  for (const v of variants.filter((x) => !x.tus.parallelUploads)) {
    const fresh = await uploadStack();
    try {
      await tusUpload(fresh, Buffer.alloc(8 * MiB, 1), v.tus);
      peaks.set(v.name, await withPeakRss(fresh.workerdPid, () => tusUpload(fresh, data, v.tus)));
    } finally {
      await fresh.stop();
    }
  }
  const out: Record<string, unknown> = { upload_mib: 256 };
  for (const P of direct.keys()) out[`direct_multipart_p${P / MiB}_mib_s`] = mib(median(direct.get(P) ?? []));
  for (const v of variants) {
    const rate = median(worker.get(v.name) ?? []);
    const peak = peaks.get(v.name);
    out[v.name] = {
      tus_mib_s: mib(rate),
      ratio_to_direct: +(rate / median(direct.get(v.P) ?? [])).toFixed(3),
      ...(peak ? { workerd_rss_before_mib: mib(peak.before), workerd_peak_rss_mib: mib(peak.peak) } : {}),
    };
  }
  out.target_ratio_streamed = 0.8;
  out.peak_difference_p100_vs_p5_mib = mib((peaks.get('p100_patch100')?.peak ?? 0) - (peaks.get('p5_patch50')?.peak ?? 0));
  out.target_peak_difference_mib = 32;
  return out;
}

/** A photo-like JPEG: smooth gradients with noise, so the decoder and the resampler do real work. */
async function photo(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
    .blur(1.2)
    .jpeg({ quality: 90 })
    .toBuffer();
}

async function thumbnailCases() {
  return [
    { name: 'jpeg_1800x1200_cover_200x200_q75', source: await photo(1800, 1200), query: 'width=200&height=200&fit=cover&quality=75&format=jpg', sharp: (b: Buffer) => sharp(b).resize(200, 200, { fit: 'cover' }).jpeg({ quality: 75 }).toBuffer() },
    { name: 'jpeg_4032x3024_width_400', source: await photo(4032, 3024), query: 'width=400&format=jpg', sharp: (b: Buffer) => sharp(b).resize({ width: 400 }).jpeg({ quality: 80 }).toBuffer() },
    { name: 'progressive_jpeg_4032x3024_width_400', source: await sharp(await photo(4032, 3024)).jpeg({ quality: 90, progressive: true }).toBuffer(), query: 'width=400&format=jpg', sharp: (b: Buffer) => sharp(b).resize({ width: 400 }).jpeg({ quality: 80 }).toBuffer() },
    // A photo saved as PNG compresses badly: ~49 MB, most of it inflated by the platform's zlib.
    { name: 'png_6000x4000_width_300', source: await sharp(await photo(6000, 4000)).png().toBuffer(), query: 'width=300&format=jpg', sharp: (b: Buffer) => sharp(b).resize({ width: 300 }).jpeg({ quality: 80 }).toBuffer() },
    // 3000 px wide needs every pixel: a full photon decode, the case ASSETS_TRANSFORM_MAX_PIXELS guards.
    { name: 'jpeg_4032x3024_width_3000_full_decode', source: await photo(4032, 3024), query: 'width=3000&format=jpg', sharp: (b: Buffer) => sharp(b).resize({ width: 3000 }).jpeg({ quality: 80 }).toBuffer() },
  ];
}

async function thumbnails(stack: LocalStack) {
  const cases = await thumbnailCases();
  const out: Record<string, unknown> = {};
  for (const c of cases) {
    const sharpMs: number[] = [];
    const workerMs: number[] = [];
    const storageMs: number[] = [];
    let peak = 0;
    let status = 0;
    for (let i = 0; i < ROUNDS; i++) {
      let started = performance.now();
      await c.sharp(c.source);
      sharpMs.push(performance.now() - started);
      // A new file each round: every first request is a miss at every cache level.
      const file = await postFile(stack, c.source.byteLength, c.source);
      started = performance.now();
      await (await fetch(`${stack.s3.endpoint}/${stack.s3.bucket}/${file.filename_disk}`)).arrayBuffer();
      storageMs.push(performance.now() - started);
      started = performance.now();
      const measured = await withPeakRss(stack.workerdPid, async () => {
        const res = await fetch(`${stack.base}/assets/${file.id}?${c.query}`);
        status = res.status;
        await res.arrayBuffer();
      });
      workerMs.push(performance.now() - started);
      peak = Math.max(peak, measured.peak);
    }
    out[c.name] = {
      status,
      sharp_ms: +median(sharpMs).toFixed(1),
      worker_miss_ms: +median(workerMs).toFixed(1),
      ratio_to_sharp: +(median(workerMs) / median(sharpMs)).toFixed(2),
      target_ratio: 2.5,
      direct_s3_get_of_source_ms: +median(storageMs).toFixed(1),
      workerd_peak_rss_mib: mib(peak),
    };
  }
  out.engine_only = await engineOnly(cases.slice(0, 4));
  out.encodings = await encodings(stack);

  // Edge-cache hit vs a direct S3 GET of an object of the same size.
  const file = await postFile(stack, 0, await photo(1800, 1200));
  const url = `${stack.base}/assets/${file.id}?width=300&format=jpg`;
  const first = await fetch(url);
  const thumb = new Uint8Array(await first.arrayBuffer());
  const same = await postFile(stack, thumb.byteLength, thumb);
  await fetch(url).then((r) => r.arrayBuffer());
  const hit: number[] = [];
  const direct: number[] = [];
  const floor: number[] = [];
  let level = '';
  for (let i = 0; i < 20; i++) {
    // The cheapest answer the Worker gives (a 404 from the router): wrangler dev's own cost per request.
    let t0 = performance.now();
    await (await fetch(`${stack.base}/__floor`)).arrayBuffer();
    floor.push(performance.now() - t0);
    t0 = performance.now();
    const res = await fetch(url);
    await res.arrayBuffer();
    hit.push(performance.now() - t0);
    level = res.headers.get('x-cache') ?? '';
    t0 = performance.now();
    await (await fetch(`${stack.s3.endpoint}/${stack.s3.bucket}/${same.filename_disk}`)).arrayBuffer();
    direct.push(performance.now() - t0);
  }
  out.edge_cache_hit = {
    level,
    bytes: thumb.byteLength,
    hit_ms: +median(hit).toFixed(2),
    direct_s3_get_ms: +median(direct).toFixed(2),
    worker_floor_ms: +median(floor).toFixed(2),
  };
  return out;
}

/**
 * The same 400 px thumbnail of the 1800×1200 photo as JPEG, lossy WebP and AVIF at quality 80: the
 * miss over HTTP (a new file each round), the size, and workerd's peak RSS during the miss.
 */
async function encodings(stack: LocalStack) {
  const source = await photo(1800, 1200);
  const out: Record<string, unknown> = {};
  for (const format of ['jpg', 'webp', 'avif']) {
    const ms: number[] = [];
    let bytes = 0;
    let peak = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const file = await postFile(stack, source.byteLength, source);
      const started = performance.now();
      const measured = await withPeakRss(stack.workerdPid, async () => {
        const res = await fetch(`${stack.base}/assets/${file.id}?width=400&quality=80&format=${format}`);
        bytes = (await res.arrayBuffer()).byteLength;
        if (res.status !== 200) throw new Error(`${format}: ${res.status}`);
      });
      ms.push(performance.now() - started);
      peak = Math.max(peak, measured.peak - measured.before);
    }
    out[format] = { miss_ms: +median(ms).toFixed(1), bytes, most_one_miss_added_mib: mib(peak) };
  }
  const jpg = out.jpg as { miss_ms: number; bytes: number };
  for (const format of ['webp', 'avif']) {
    const o = out[format] as { miss_ms: number; bytes: number } & Record<string, unknown>;
    o.miss_ratio_to_jpeg = +(o.miss_ms / jpg.miss_ms).toFixed(2);
    o.size_ratio_to_jpeg = +(o.bytes / jpg.bytes).toFixed(2);
  }
  (out.webp as Record<string, unknown>).target_size_ratio = 1.2;
  (out.avif as Record<string, unknown>).target_miss_ratio = 3;
  return out;
}

/**
 * What the engine holds across a mixed sequence of misses, in a workerd of its own: every source is
 * uploaded first, then BENCH_MIX_ROUNDS (8) rounds of every thumbnail case at a new size each time.
 * Per case: the most a single miss raised the process's RSS above where it stood (what that format
 * holds at once). Overall: RSS before the sequence, its peak and where it ends, which includes what
 * is freed but not yet collected (dropped WebAssembly instances, streamed chunks): it must level off.
 */
async function memory() {
  const stack = await startLocalStack();
  try {
    const cases = (await thumbnailCases()).filter((c) => !c.name.endsWith('full_decode'));
    const files = [];
    for (const c of cases) files.push({ c, file: await postFile(stack, c.source.byteLength, c.source) });
    await (await fetch(`${stack.base}/__floor`)).arrayBuffer();
    const before = rssOf(stack.workerdPid);
    let peak = before;
    const perCase: Record<string, number> = {};
    const afterRound: number[] = [];
    const rounds = Number(process.env.BENCH_MIX_ROUNDS ?? 8);
    for (let round = 0; round < rounds; round++) {
      for (const { c, file } of files) {
        const query = c.query.replace(/width=(\d+)/, (_, w: string) => `width=${Number(w) + round + 1}`);
        const measured = await withPeakRss(stack.workerdPid, async () => {
          const res = await fetch(`${stack.base}/assets/${file.id}?${query}`);
          await res.arrayBuffer();
          if (res.status !== 200) throw new Error(`${c.name}: ${res.status}`);
        });
        peak = Math.max(peak, measured.peak);
        perCase[c.name] = Math.max(perCase[c.name] ?? 0, mib(measured.peak - measured.before));
      }
      afterRound.push(mib(rssOf(stack.workerdPid)));
    }
    return {
      sequence: `${rounds} rounds of ${cases.map((c) => c.name).join(', ')}`,
      most_one_miss_added_mib: perCase,
      workerd_rss_before_mib: mib(before),
      workerd_peak_rss_mib: mib(peak),
      workerd_rss_after_each_round_mib: afterRound,
      isolate_limit_mib: 128,
    };
  } finally {
    await stack.stop();
  }
}

/**
 * The engine alone, in this process (bundled for Node as wrangler bundles it): header read and
 * transformImage against sharp on the same bytes, both warmed up, median of BENCH_ENGINE_RUNS (20).
 */
async function engineOnly(cases: { name: string; source: Buffer; query: string; sharp: (b: Buffer) => Promise<Buffer> }[]) {
  const engine = await loadEngine('engine');
  const runs = Number(process.env.BENCH_ENGINE_RUNS ?? 20);
  const out: Record<string, unknown> = {};
  for (const c of cases) {
    const bytes = new Uint8Array(c.source);
    const header = engine.readDimensions(bytes);
    const settings = { storage_asset_transform: 'all', storage_asset_presets: [] };
    const t = engine.resolveTransform(new URLSearchParams(c.query), { settings, maxDimension: 6000, maxOperations: 5, accept: null, sourceType: 'image/jpeg', sourceWidth: null, sourceHeight: null, focalPointX: null, focalPointY: null });
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < runs + 3; i++) {
      let t0 = performance.now();
      await engine.transformImage(bytes, header, t, 4_000_000);
      if (i >= 3) ours.push(performance.now() - t0);
      t0 = performance.now();
      await c.sharp(c.source);
      if (i >= 3) theirs.push(performance.now() - t0);
    }
    out[c.name] = { engine_ms: +median(ours).toFixed(1), sharp_ms: +median(theirs).toFixed(1), ratio_to_sharp: +(median(ours) / median(theirs)).toFixed(2), target_ratio: 2 };
  }
  return out;
}

/** Requests per second at 16 connections for `seconds` (autocannon), checking every answer's status. */
async function throughput(url: string, status: number, seconds = Number(process.env.BENCH_SECONDS ?? 5)): Promise<number> {
  const result = await autocannon({ url, connections: 16, duration: seconds });
  const wrong = result.non2xx - (status >= 300 ? result.requests.total : 0);
  if (result.errors > 0 || (status < 300 && wrong > 0)) throw new Error(`${url}: ${result.errors} errors, ${result.non2xx} non-2xx answers`);
  return result.requests.average;
}

/**
 * The edge hot path: requests per second of an edge-cache hit (a thumbnail, a 670 KB and a 16 MiB
 * original) against the Worker's cheapest answer (an unknown route's 404) in the same run, with a
 * counting proxy in front of the S3 server proving a hit run sends storage nothing.
 */
async function hotpath() {
  let proxy: Awaited<ReturnType<typeof startFaultProxy>> | undefined;
  const stack = await startLocalStack({ storageEndpoint: async (s3) => (proxy = await startFaultProxy(s3.endpoint)).endpoint });
  const storageRequests = async () => ((await (await fetch(`${proxy?.endpoint}/__faults/log`)).json()) as { requests: number }).requests;
  try {
    const photoFile = await postFile(stack, 0, await photo(1800, 1200));
    const thumb = `${stack.base}/assets/${photoFile.id}?width=200&height=200&fit=cover&format=jpg`;
    const small = await postFile(stack, 670 * 1024, new Uint8Array(670 * 1024).map((_, i) => i % 251));
    const large = await postFile(stack, 16 * MiB);
    const cases = { thumbnail_hit: thumb, original_670kb_hit: `${stack.base}/assets/${small.id}`, original_16mib_hit: `${stack.base}/assets/${large.id}` };
    for (const url of Object.values(cases)) {
      for (let i = 0; i < 50; i++) {
        const res = await fetch(url);
        await res.arrayBuffer();
        if (res.headers.get('x-cache') === 'HIT-EDGE') break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const floor = await throughput(`${stack.base}/__floor`, 404);
    const out: Record<string, unknown> = { floor_404_rps: Math.round(floor) };
    for (const [name, url] of Object.entries(cases)) {
      const before = await storageRequests();
      const rps = await throughput(url, 200);
      out[name] = { rps: Math.round(rps), ratio_to_floor: +(rps / floor).toFixed(2), storage_requests: (await storageRequests()) - before };
    }
    // The ceiling of moving the same bytes on this machine: a direct GET from the S3 server.
    const direct = await throughput(`${stack.s3.endpoint}/${stack.s3.bucket}/${small.filename_disk}`, 200);
    out.direct_s3_670kb = { rps: Math.round(direct), ratio_to_floor: +(direct / floor).toFixed(2) };
    (out.thumbnail_hit as Record<string, unknown>).target_ratio = 0.8;
    (out.original_670kb_hit as Record<string, unknown>).target_ratio = 0.5;
    return out;
  } finally {
    await stack.stop();
    await proxy?.close();
  }
}

/** One stack for every class's worst cases; each file in scripts/bench-budget/ is a class. */
async function budget() {
  const stack = await startLocalStack();
  const out: Record<string, unknown> = {};
  try {
    const dir = join(import.meta.dirname, 'bench-budget');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts')).sort()) {
      const run = (await import(join(dir, file))).default as BudgetCase;
      out[file.replace(/\.ts$/, '')] = await run(stack, (fn) => withPeakRss(stack.workerdPid, fn));
    }
    return out;
  } finally {
    await stack.stop();
  }
}

const report: Record<string, unknown> = { rounds: ROUNDS };
if (CASES.some((c) => ['originals', 'uploads', 'thumbnails'].includes(c))) {
  const stack = await uploadStack();
  try {
    if (CASES.includes('originals')) report.originals = await originals(stack);
    if (CASES.includes('uploads')) report.uploads = await uploads(stack);
    if (CASES.includes('thumbnails')) report.thumbnails = await thumbnails(stack);
  } finally {
    await stack.stop();
  }
}
if (CASES.includes('direct')) {
  const stack = await startLocalStack();
  try {
    report.direct = await direct(stack, ROUNDS);
  } finally {
    await stack.stop();
  }
}
if (CASES.includes('memory')) report.memory = await memory();
if (CASES.includes('budget')) report.budget = await budget();
if (CASES.includes('hotpath')) report.hotpath = await hotpath();
if (CASES.includes('tus')) report.tus = await tusBench(withPeakRss);
// An upload with one webhook subscribed against none (scripts/bench-webhooks.ts).
if (CASES.includes('webhooks')) report.webhooks = await benchWebhooks();
// Thumbnail bytes at equal SSIM against sharp, JPEG, WebP and AVIF (scripts/bench-bytes.ts).
if (CASES.includes('bytes')) report.bytes = await benchBytes();
// 12 MP WebP and AVIF sources, the engine alone against sharp (scripts/bench-bigimg.ts).
if (CASES.includes('bigimg')) report.bigimg = await benchBigimg();
// An SVG thumbnail's miss against sharp (librsvg), and hostile SVGs' refusal times (scripts/bench-svg.ts).
if (CASES.includes('svg')) report.svg = await benchSvg(ROUNDS);
console.log(JSON.stringify(report, null, 2));
