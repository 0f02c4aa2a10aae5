/**
 * `npm run bench`: measures the Worker against a baseline in the same run (the machine is noisy, so
 * only ratios mean something). Starts its own s3rver and `wrangler dev` on free loopback ports with
 * throwaway state, and prints a JSON report.
 *
 * Case "originals": a 256 MiB object streamed from /assets/:id through the Worker vs a direct GET of
 * the same object from the same S3 server — throughput ratio (target ≥ 0.8) — and the workerd
 * process's peak RSS while serving 16 MiB and 256 MiB objects (target: independent of size).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startS3rver } from './s3-target.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const wrangler = join(dirname(createRequire(import.meta.url).resolve('wrangler/package.json')), 'bin', 'wrangler.js');
const MiB = 1024 * 1024;
const TOKEN = 'bench-admin-token-0123456789';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Every descendant PID of `pid` (wrangler → workerd). */
function descendants(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1]);
      if (ppid === pid) out.push(Number(entry), ...descendants(Number(entry)));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

function rssOf(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

function workerdPid(wranglerPid: number): number {
  const pid = descendants(wranglerPid).find((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('workerd');
    } catch {
      return false;
    }
  });
  if (!pid) throw new Error('workerd process not found');
  return pid;
}

/** Runs `fn` while sampling a process's RSS every 20 ms; returns fn's result and the peak. */
async function withPeakRss<T>(pid: number, fn: () => Promise<T>): Promise<{ result: T; peak: number }> {
  let peak = rssOf(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 20);
  try {
    return { result: await fn(), peak };
  } finally {
    clearInterval(timer);
    peak = Math.max(peak, rssOf(pid));
  }
}

/** Downloads a URL to nowhere; returns bytes per second. */
async function download(url: string, expected: number): Promise<number> {
  const started = performance.now();
  const res = await fetch(url);
  if (!res.ok || !res.body) throw new Error(`GET ${url}: ${res.status}`);
  let n = 0;
  for await (const chunk of res.body) n += chunk.byteLength;
  if (n !== expected) throw new Error(`GET ${url}: ${n} bytes, expected ${expected}`);
  return n / ((performance.now() - started) / 1000);
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function waitFor(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error('wrangler dev exited');
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not come up`);
}

async function main(): Promise<void> {
  const state = mkdtempSync(join(tmpdir(), 'edge-assets-bench-'));
  const s3 = await startS3rver({ port: await freePort(), directory: join(state, 's3'), bucket: 'bench' });
  const port = await freePort();
  const vars = {
    ADMIN_TOKEN: TOKEN,
    STORAGE_LOCATIONS: 'local',
    STORAGE_LOCAL_ENDPOINT: s3.target.endpoint,
    STORAGE_LOCAL_BUCKET: 'bench',
    STORAGE_LOCAL_KEY: s3.target.accessKeyId,
    STORAGE_LOCAL_SECRET: s3.target.secretAccessKey,
    STORAGE_LOCAL_REGION: s3.target.region,
    STORAGE_LOCAL_FORCE_PATH_STYLE: 'true',
  };
  const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' };
  const persist = join(state, 'wrangler');
  const migrated = spawnSync(process.execPath, [wrangler, 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persist], { cwd: root, env, encoding: 'utf8' });
  if (migrated.status !== 0) throw new Error(`migrations: ${migrated.stderr}`);
  const varArgs = Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]);
  const dev = spawn(process.execPath, [wrangler, 'dev', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', persist, ...varArgs], {
    cwd: root,
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`${base}/server/health`, dev);
    const workerd = workerdPid(dev.pid as number);
    const report: Record<string, unknown> = {};

    const files: Record<number, string> = {};
    for (const size of [16 * MiB, 256 * MiB]) {
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(size).fill(7)]), `bench-${size}.bin`);
      const up = await fetch(`${base}/files`, { method: 'POST', body: form, headers: { authorization: `Bearer ${TOKEN}` } });
      if (!up.ok) throw new Error(`upload: ${up.status} ${await up.text()}`);
      const { data } = (await up.json()) as { data: { id: string; filename_disk: string } };
      files[size] = data.id;
      files[-size] = data.filename_disk;
    }

    const big = 256 * MiB;
    const direct: number[] = [];
    const worker: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      direct.push(await download(`${s3.target.endpoint}/bench/${files[-big]}`, big));
      worker.push(await download(`${base}/assets/${files[big]}`, big));
    }
    const idle = rssOf(workerd);
    const small = await withPeakRss(workerd, () => download(`${base}/assets/${files[16 * MiB]}`, 16 * MiB));
    const large = await withPeakRss(workerd, () => download(`${base}/assets/${files[big]}`, big));
    report.originals = {
      object_mib: 256,
      rounds: ROUNDS,
      direct_mib_s: +(median(direct) / MiB).toFixed(1),
      worker_mib_s: +(median(worker) / MiB).toFixed(1),
      throughput_ratio: +(median(worker) / median(direct)).toFixed(3),
      target_ratio: 0.8,
      workerd_rss_idle_mib: +(idle / MiB).toFixed(1),
      workerd_peak_rss_16mib_object_mib: +(small.peak / MiB).toFixed(1),
      workerd_peak_rss_256mib_object_mib: +(large.peak / MiB).toFixed(1),
      peak_difference_mib: +((large.peak - small.peak) / MiB).toFixed(1),
    };
    console.log(JSON.stringify(report, null, 2));
  } finally {
    dev.kill('SIGTERM');
    await s3.close();
    rmSync(state, { recursive: true, force: true });
  }
}

await main();
