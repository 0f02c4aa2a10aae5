import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type LocalStack, STACK_TOKEN, startLocalStack } from '../scripts/local-stack.ts';
import { bytes } from '../test/pseudo-random.ts';

/**
 * A real client nobody here wrote: Uppy 6's @uppy/aws-s3 (companionEndpoint mode, the routes under
 * /files/s3) in Chromium, on a page of another origin, with the page's token added by
 * admin/direct-upload.ts. The parts go from the browser to the local stack's S3 server (CORS
 * following CORS_ORIGIN); the bytes must come back identical through /assets.
 */
const MiB = 1024 * 1024;
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'edge-assets-uppy-s3-'));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
let stack: LocalStack;
let browser: Browser;
let server: Server;
let pageOrigin: string;

const ENTRY = `
import Uppy from '@uppy/core';
import AwsS3 from '@uppy/aws-s3';
import { withBearerToken } from ${JSON.stringify(join(root, 'admin/direct-upload.ts'))};
import { bytes } from ${JSON.stringify(join(root, 'test/pseudo-random.ts'))};
window.upload = async (api, token, files) => {
  withBearerToken(() => token, api);
  const uppy = new Uppy().use(AwsS3, { companionEndpoint: api + '/files', shouldUseMultipart: true, getChunkSize: () => 5 * 1024 * 1024 });
  for (const f of files) {
    const data = f.base64 ? Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0)) : bytes(f.size, f.seed);
    uppy.addFile({ name: f.name, type: f.type, data: new Blob([data], { type: f.type }) });
  }
  const result = await uppy.upload();
  return {
    successful: (result?.successful ?? []).map((f) => ({ name: f.name, location: f.response?.uploadURL ?? null })),
    failed: (result?.failed ?? []).map((f) => ({ name: f.name, error: String(f.error) })),
  };
};
`;

beforeAll(async () => {
  if (!CHROMIUM) throw new Error('chromium is not installed: .ci/run installs it (apt-get install chromium).');
  writeFileSync(join(dir, 'entry.js'), ENTRY);
  await build({ entryPoints: [join(dir, 'entry.js')], bundle: true, format: 'esm', outfile: join(dir, 'bundle.js'), nodePaths: [join(root, 'node_modules')], logLevel: 'silent' });
  const port = await freePort();
  pageOrigin = `http://127.0.0.1:${port}`;
  server = createServer((req, res) => {
    if (req.url === '/bundle.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(join(dir, 'bundle.js')));
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><script type="module" src="/bundle.js"></script>');
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  stack = await startLocalStack({ vars: { CORS_ENABLED: 'true', CORS_ORIGIN: pageOrigin } });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await new Promise((resolve) => server?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('@uppy/aws-s3 against /files/s3', () => {
  it('uploads a photo and a multi-part file straight to the bucket; /assets serves the same bytes', async () => {
    const photo = readFileSync(join(root, 'test/fixtures/photo-meta.jpg'));
    const size = 12 * MiB + 4321;
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(`${pageOrigin}/`);
    await page.waitForFunction(() => 'upload' in window);
    const result = await page.evaluate(
      ([api, token, files]) => (window as unknown as { upload: (...a: unknown[]) => Promise<{ successful: { name: string; location: string | null }[]; failed: unknown[] }> }).upload(api, token, files),
      [stack.base, STACK_TOKEN, [{ name: 'photo.jpg', type: 'image/jpeg', base64: photo.toString('base64') }, { name: 'video.bin', type: 'application/octet-stream', size, seed: 99 }]] as const,
    );
    expect(errors).toEqual([]);
    expect(result.failed).toEqual([]);
    const byName = new Map(result.successful.map((f) => [f.name, f.location]));
    for (const [name, expected] of [
      ['photo.jpg', photo],
      ['video.bin', bytes(size, 99)],
    ] as const) {
      const location = byName.get(name);
      expect(location).toMatch(new RegExp(`^${stack.base}/assets/[0-9a-f-]{36}$`));
      const res = await fetch(location as string, { headers: { authorization: `Bearer ${STACK_TOKEN}` } });
      expect(res.status).toBe(200);
      expect(sha256(new Uint8Array(await res.arrayBuffer()))).toBe(sha256(expected));
    }
    const id = (byName.get('photo.jpg') as string).split('/').pop();
    const record = (await (await fetch(`${stack.base}/files/${id}`, { headers: { authorization: `Bearer ${STACK_TOKEN}` } })).json()) as { data: Record<string, unknown> };
    expect(record.data).toMatchObject({ type: 'image/jpeg', width: 64, height: 48, filename_download: 'photo.jpg' });
    await page.close();
  }, 120_000);
});
