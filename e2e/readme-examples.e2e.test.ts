import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, STACK_TOKEN, startLocalStack } from '../scripts/local-stack.ts';

/**
 * The README's examples, run as written: every ```bash readme-example block, in order, in one bash
 * session (later blocks use the ids earlier ones kept), against a stack like `npm start`'s (s3rver,
 * local D1, wrangler dev, an admin token and a signing key). BASE and TOKEN are what the README's
 * setup block exports; the working folder sees the project's test/ folder, as the project root does.
 */
const root = join(import.meta.dirname, '..');
const blocks = [...readFileSync(join(root, 'README.md'), 'utf8').matchAll(/```bash readme-example\n([\s\S]*?)```/g)].map((m) => m[1] as string);

let stack: LocalStack;
let cwd: string;

beforeAll(async () => {
  stack = await startLocalStack({ vars: { ASSETS_SIGNING_KEY: 'readme-example-signing-key-0123456789abcdef' } });
  cwd = mkdtempSync(join(tmpdir(), 'edge-assets-readme-'));
  symlinkSync(join(root, 'test'), join(cwd, 'test'));
});

afterAll(async () => {
  await stack?.stop();
  if (cwd) rmSync(cwd, { recursive: true, force: true });
});

describe('README examples', () => {
  it('has the examples a newcomer looks for', () => {
    const all = blocks.join('\n');
    for (const route of ['/files"', '/files?filter', '/assets/', '/files/tus', '/folders', '/tokens', '/sign?']) expect(all, route).toContain(route);
  });

  it('runs every readme-example block as written', async () => {
    const script = ['set -euo pipefail', ...blocks.map((b, i) => `echo "--- block ${i + 1}"\n${b}`)].join('\n');
    // Asynchronously: the S3 server of the stack runs in this process and must keep answering.
    const run = await new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      execFile('bash', ['-c', script], { cwd, env: { ...process.env, BASE: stack.base, TOKEN: STACK_TOKEN }, timeout: 60_000 }, (error, stdout, stderr) =>
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
    const thumb = readFileSync(join(cwd, 'thumb.webp'));
    expect(thumb.subarray(8, 12).toString('latin1')).toBe('WEBP');
  });
});
