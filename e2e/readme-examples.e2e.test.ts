import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../scripts/local-stack.ts';

/**
 * The README's examples, run as written: `npm start` (scripts/start.ts) in a folder of its own
 * (START_STATE_DIR: its .dev.vars, S3 data and D1 state), then every ```bash readme-example block,
 * in order, in one bash session started in that folder — the setup block reads the token from the
 * .dev.vars that `npm start` wrote, later blocks use the ids earlier ones kept. Only the port in the
 * setup block is replaced, by the one this run uses.
 */
const root = join(import.meta.dirname, '..');
const blocks = [...readFileSync(join(root, 'README.md'), 'utf8').matchAll(/```bash readme-example\n([\s\S]*?)```/g)].map((m) => m[1] as string);

let start: ChildProcess;
let state: string;
let base: string;

beforeAll(async () => {
  state = mkdtempSync(join(tmpdir(), 'edge-assets-readme-'));
  symlinkSync(join(root, 'test'), join(state, 'test'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  start = spawn(process.execPath, [join(root, 'scripts', 'start.ts')], {
    cwd: root,
    env: { ...process.env, PORT: String(port), S3_PORT: String(await freePort()), START_STATE_DIR: state },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  start.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  for (let i = 0; ; i++) {
    const ok = await fetch(`${base}/server/health`).then((r) => r.ok, () => false);
    if (ok) break;
    if (start.exitCode !== null || i > 240) throw new Error(`npm start did not come up: ${stderr}`);
    await new Promise((r) => setTimeout(r, 250));
  }
});

afterAll(async () => {
  if (start && start.exitCode === null) {
    start.kill('SIGINT');
    await new Promise((r) => start.once('exit', r));
  }
  if (state) rmSync(state, { recursive: true, force: true });
});

describe('README examples against npm start', () => {
  it('has the examples a newcomer looks for', () => {
    const all = blocks.join('\n');
    for (const route of ['.dev.vars', '/files"', '/files?filter', '/assets/', '/files/tus', '/folders', '/tokens', '/sign?']) expect(all, route).toContain(route);
  });

  it('runs every readme-example block as written', async () => {
    const script = ['set -euo pipefail', ...blocks.map((b, i) => `echo "--- block ${i + 1}"\n${b.replaceAll('http://127.0.0.1:8787', base)}`)].join('\n');
    // Where the examples write their outputs: this run's folder, which is thrown away.
    const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: state };
    delete env.BASE;
    delete env.TOKEN;
    const run = await new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      execFile('bash', ['-c', script], { cwd: state, env, timeout: 60_000 }, (error, stdout, stderr) =>
        resolve({ status: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
      );
    });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    const out = run.stdout;
    expect(out).toMatch(/uploaded [0-9a-f-]{36}/);
    expect(out).toMatch(/"title":"A photo","width":64,"height":48/);
    expect(out).toMatch(/directus-file-id: [0-9a-f-]{36}/i);
    expect(out).toMatch(/"folder":"[0-9a-f-]{36}"/);
    expect(out).toMatch(/"scope":"upload".*"token":"ea_/);
    expect(out).toMatch(/"url":"http:\/\/127\.0\.0\.1:\d+\/assets\/[0-9a-f-]{36}\?width=400&expires=\d+&signature=/);
    const thumb = readFileSync(join(state, 'thumb.webp'));
    expect(thumb.subarray(8, 12).toString('latin1')).toBe('WEBP');
  });
});
