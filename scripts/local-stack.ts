/**
 * The whole service on loopback for end-to-end tests and benchmarks: an S3 server (s3rver, or the
 * one given), D1 migrated into a throwaway state folder, and `wrangler dev` on a free port with the
 * storage location passed as variables. Runs in Node.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startS3rver } from './s3-target.ts';
import { addS3rverMultipartOperations, allowBrowserUploads, browserOrigins } from './s3rver-multipart.ts';
import type { S3Target } from './s3-target-type.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const wrangler = join(dirname(createRequire(import.meta.url).resolve('wrangler/package.json')), 'bin', 'wrangler.js');

export const STACK_TOKEN = 'local-stack-admin-token-0123456789';

export interface LocalStack {
  /** The Worker's origin, e.g. http://127.0.0.1:41234 */
  base: string;
  /** The S3 server the Worker writes to (before any proxy). */
  s3: S3Target;
  /** The workerd process serving the Worker, for memory readings. */
  workerdPid: number;
  /** Where wrangler keeps the local D1 (and Durable Object) state, for size readings. */
  persist: string;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** An S3 server to use instead of starting s3rver. */
  s3?: S3Target;
  /** Where the Worker should send S3 requests (a proxy in front of `s3`); defaults to `s3.endpoint`. */
  storageEndpoint?: (s3: S3Target) => Promise<string> | string;
  /** More storage locations on the same bucket (after `local`), configured through `vars`. */
  moreLocations?: string[];
  /** More Worker variables. */
  vars?: Record<string, string>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export async function startLocalStack(options: StackOptions = {}): Promise<LocalStack> {
  const state = mkdtempSync(join(tmpdir(), 'edge-assets-stack-'));
  addS3rverMultipartOperations();
  const s3rver = options.s3 ? undefined : await startS3rver({ port: await freePort(), directory: join(state, 's3'), bucket: 'stack' });
  const s3 = options.s3 ?? (s3rver as NonNullable<typeof s3rver>).target;
  const endpoint = options.storageEndpoint ? await options.storageEndpoint(s3) : s3.endpoint;
  const names = ['local', ...(options.moreLocations ?? [])];
  const vars: Record<string, string> = {
    ADMIN_TOKEN: STACK_TOKEN,
    STORAGE_LOCATIONS: names.join(','),
    ...Object.fromEntries(
      names.flatMap((name) => {
        const p = `STORAGE_${name.toUpperCase()}_`;
        return [
          [`${p}ENDPOINT`, endpoint],
          [`${p}BUCKET`, s3.bucket],
          [`${p}KEY`, s3.accessKeyId],
          [`${p}SECRET`, s3.secretAccessKey],
          [`${p}REGION`, s3.region],
          [`${p}FORCE_PATH_STYLE`, 'true'],
        ];
      }),
    ),
    ...options.vars,
  };
  const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' };
  const persist = join(state, 'wrangler');
  // `--env-file` of an empty file keeps a developer's .dev.vars out of the stack.
  const noVars = join(state, 'empty.env');
  spawnSync('touch', [noVars]);
  const migrated = spawnSync(process.execPath, [wrangler, 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persist], {
    cwd: root,
    env,
    encoding: 'utf8',
  });
  if (migrated.status !== 0) throw new Error(`D1 migrations failed: ${migrated.stderr}`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  if (s3rver) await allowBrowserUploads(s3rver.target, browserOrigins(vars.CORS_ORIGIN, base));
  const varArgs = Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]);
  const dev = spawn(
    process.execPath,
    [wrangler, 'dev', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', persist, '--env-file', noVars, '--show-interactive-dev-session=false', ...varArgs],
    { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  dev.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const stop = async () => {
    dev.kill('SIGTERM');
    await new Promise((r) => (dev.exitCode !== null ? r(undefined) : dev.once('exit', r)));
    await s3rver?.close();
    rmSync(state, { recursive: true, force: true });
  };
  try {
    await waitFor(`${base}/server/health`, dev, () => stderr);
    return { base, s3, workerdPid: workerdOf(dev.pid as number), persist, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function waitFor(url: string, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited: ${log()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not come up: ${log()}`);
}

/** Every descendant PID of `pid`. */
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

/**
 * The workerd process that runs the Worker. `wrangler dev` starts two: a proxy on the public port,
 * and the one running the code, which is the one with an inspector.
 */
function workerdOf(wranglerPid: number): number {
  const cmdline = (p: number) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8');
    } catch {
      return '';
    }
  };
  const pid = descendants(wranglerPid).find((p) => cmdline(p).includes('workerd') && cmdline(p).includes('--inspector-addr'));
  if (!pid) throw new Error('the workerd process running the Worker was not found');
  return pid;
}

/** Resident memory of a process, in bytes (0 once it is gone). */
export function rssOf(pid: number): number {
  return statusBytes(pid, 'VmRSS');
}

/** The process's peak RSS (the kernel's high-water mark), in bytes; 0 when unknown. */
export function hwmOf(pid: number): number {
  return statusBytes(pid, 'VmHWM');
}

function statusBytes(pid: number, field: string): number {
  try {
    return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}
