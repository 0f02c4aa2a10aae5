/**
 * tus (issue 26): PATCH sizes against part sizes, for uploads of 256 MiB and 1 GiB, each through
 * the Worker against a direct SigV4 multipart upload of the same bytes with the same part size, to
 * the same S3 server. Cases: PATCHes of whole parts (P = 100 MiB), 48 MiB PATCHes into 100 MiB
 * parts, 50 MiB PATCHes into 525 MiB parts (the part a 5 TiB upload needs). Each case in a fresh
 * workerd; its peak RSS from the kernel (VmHWM), against the RSS of the idle process after a small
 * warm-up upload (1 MiB). The first large upload of a fresh workerd peaks higher than the later
 * ones (V8 compiles and sizes its heaps on the way), so both are reported: the first upload's peak
 * and the later ones', each over the same idle RSS, and `rss_growth_mib` is the larger.
 * `BENCH_TUS_SIZES_MIB=256,1024`, `BENCH_TUS_ROUNDS` (2; at least 2 for a later upload) and
 * `BENCH_TUS_CASES` (names, comma-separated; all by default) pick sizes, rounds and cases. CPU
 * seconds per upload, from the kernel: the Worker's workerd, the rest of `wrangler dev` (its proxy
 * workerd and wrangler itself), and this process (the client and s3rver), for the TUS and the
 * direct uploads: on two cores they tell how much of the gap is CPU the extra hops take from the
 * client and the S3 server.
 */
import { readFileSync } from 'node:fs';
import { AwsClient } from 'aws4fetch';
import { type LocalStack, rssOf, STACK_TOKEN, startLocalStack } from './local-stack.ts';

const MiB = 1024 * 1024;
const SIZES = (process.env.BENCH_TUS_SIZES_MIB ?? '256,1024').split(',').map((s) => Number(s) * MiB);
const ROUNDS = Number(process.env.BENCH_TUS_ROUNDS ?? 2);

const CASES = [
  { name: 'whole_part_patches_p100', P: 100 * MiB, patch: 100 * MiB, target: 0.85 },
  { name: 'patch48_into_p100', P: 100 * MiB, patch: 48 * MiB, target: 0.7 },
  { name: 'patch50_into_p525', P: 525 * MiB, patch: 50 * MiB, target: 0.7 },
];
const ONLY = process.env.BENCH_TUS_CASES?.split(',');
const TARGET_RSS_GROWTH_MIB = 64;

export type PeakRss = <T>(pid: number, fn: () => Promise<T>) => Promise<{ result: T; before: number; peak: number }>;

/** Bytes [at, end) of `data` without a copy, as a fetch body. */
const view = (data: Buffer, at: number, end: number) => new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset + at, Math.min(end, data.byteLength) - at);
const mib = (n: number) => +(n / MiB).toFixed(1);
const TUS = { Authorization: `Bearer ${STACK_TOKEN}`, 'Tus-Resumable': '1.0.0' };

/** One TUS upload of `data` to the `part` location in sequential PATCHes of `size` bytes. */
async function tusUpload(stack: LocalStack, data: Buffer, size: number): Promise<void> {
  const meta = `filename ${btoa('bench.bin')},storage ${btoa('part')}`;
  const created = await fetch(`${stack.base}/files/tus`, { method: 'POST', headers: { ...TUS, 'Upload-Length': String(data.byteLength), 'Upload-Metadata': meta } });
  if (created.status !== 201) throw new Error(`TUS POST: ${created.status} ${await created.text()}`);
  const url = created.headers.get('location') as string;
  for (let at = 0; at < data.byteLength; at += size) {
    const res = await fetch(url, { method: 'PATCH', headers: { ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(at) }, body: view(data, at, at + size) });
    if (res.status !== 204) throw new Error(`TUS PATCH at ${at}: ${res.status} ${await res.text()}`);
  }
}

/** The same bytes as `P`-byte parts of one multipart upload, each part one signed PUT straight to S3. */
async function direct(stack: LocalStack, data: Buffer, P: number, key: string): Promise<void> {
  const { s3 } = stack;
  const aws = new AwsClient({ accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, region: s3.region, service: 's3', retries: 0 });
  const object = `${s3.endpoint}/${s3.bucket}/${key}`;
  const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(await (await aws.fetch(`${object}?uploads`, { method: 'POST' })).text())?.[1] ?? '';
  const etags: string[] = [];
  for (let at = 0; at < data.byteLength; at += P) {
    const part = await aws.fetch(`${object}?partNumber=${etags.length + 1}&uploadId=${encodeURIComponent(uploadId)}`, { method: 'PUT', body: view(data, at, at + P) });
    etags.push(part.headers.get('etag') ?? '');
  }
  const xml = etags.map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${etag}</ETag></Part>`).join('');
  const done = await aws.fetch(`${object}?uploadId=${encodeURIComponent(uploadId)}`, { method: 'POST', body: `<CompleteMultipartUpload>${xml}</CompleteMultipartUpload>` });
  if (!done.ok) throw new Error(`direct CompleteMultipartUpload: ${done.status}`);
}

/** CPU seconds (user + system) a process has used, from /proc (0 once it is gone). */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

const parentOf = (pid: number) => Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
const childrenOf = (pid: number) => readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);

type CpuSeconds = { worker: number; rest_of_dev_server: number; bench_process: number };

/** CPU seconds `fn` took in the Worker's workerd, the rest of the dev server, and this process. */
async function cpuOf(workerdPid: number, fn: () => Promise<void>): Promise<CpuSeconds> {
  const wrangler = parentOf(workerdPid);
  const rest = [wrangler, ...childrenOf(wrangler).filter((p) => p !== workerdPid)];
  const sum = (pids: number[]) => pids.reduce((s, p) => s + cpuSeconds(p), 0);
  const before = { worker: cpuSeconds(workerdPid), rest: sum(rest), self: process.cpuUsage() };
  await fn();
  const self = process.cpuUsage(before.self);
  return { worker: cpuSeconds(workerdPid) - before.worker, rest_of_dev_server: sum(rest) - before.rest, bench_process: (self.user + self.system) / 1e6 };
}

async function rate(fn: () => Promise<void>, bytes: number): Promise<number> {
  const started = performance.now();
  await fn();
  return bytes / ((performance.now() - started) / 1000);
}

const meanCpu = (xs: CpuSeconds[]) => Object.fromEntries(Object.entries(xs[0] ?? {}).map(([k]) => [k, +(xs.reduce((s, x) => s + x[k as keyof CpuSeconds], 0) / xs.length).toFixed(2)]));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

export default async function tusBench(withPeakRss: PeakRss): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { rounds: ROUNDS, target_rss_growth_mib: TARGET_RSS_GROWTH_MIB };
  for (const size of SIZES) {
    const data = Buffer.alloc(size, 7);
    for (const c of CASES.filter((x) => !ONLY || ONLY.includes(x.name))) {
      const stack = await startLocalStack({ moreLocations: ['part'], vars: { STORAGE_PART_TUS__CHUNK_SIZE: String(c.P) } });
      try {
        const fresh = rssOf(stack.workerdPid);
        await tusUpload(stack, Buffer.alloc(MiB, 1), MiB);
        const idle = rssOf(stack.workerdPid);
        const directRates: number[] = [];
        const tusRates: number[] = [];
        const cpu = { tus: [] as CpuSeconds[], direct: [] as CpuSeconds[] };
        /** Peak RSS of the first large upload, and of the later ones. */
        const peaks = [idle, idle];
        for (let round = 0; round < ROUNDS; round++) {
          cpu.direct.push(await cpuOf(stack.workerdPid, async () => void directRates.push(await rate(() => direct(stack, data, c.P, `bench-direct-${c.name}-${round}`), size))));
          let measured = { result: 0, peak: 0 };
          cpu.tus.push(await cpuOf(stack.workerdPid, async () => void (measured = await withPeakRss(stack.workerdPid, () => rate(() => tusUpload(stack, data, c.patch), size)))));
          tusRates.push(measured.result);
          const which = round === 0 ? 0 : 1;
          peaks[which] = Math.max(peaks[which] as number, measured.peak);
        }
        const [first, later] = peaks as [number, number];
        const peak = Math.max(first, later);
        const ratio = median(tusRates) / median(directRates);
        const name = `${c.name}_${size / MiB}mib`;
        out[name] = {
          direct_mib_s: mib(median(directRates)),
          tus_mib_s: mib(median(tusRates)),
          ratio_to_direct: +ratio.toFixed(3),
          target_ratio: c.target,
          workerd_rss_fresh_mib: mib(fresh),
          workerd_rss_idle_mib: mib(idle),
          workerd_peak_rss_mib: mib(peak),
          first_upload_rss_growth_mib: mib(first - idle),
          ...(ROUNDS > 1 ? { later_uploads_rss_growth_mib: mib(later - idle) } : {}),
          rss_growth_mib: mib(peak - idle),
          cpu_s_per_upload: { tus: meanCpu(cpu.tus), direct: meanCpu(cpu.direct) },
        };
        // Each case as it ends: a run cut short still says what it measured.
        console.error(JSON.stringify({ [name]: out[name] }));
      } finally {
        await stack.stop();
      }
    }
  }
  return out;
}
