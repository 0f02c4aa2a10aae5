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
 * Real clients nobody here wrote, in Chromium, on a page of another origin, against the routes under
 * /files/s3: Uppy 5's @uppy/aws-s3 in `endpoint` mode with the bearer token in its `headers` (from
 * the e2e/uppy5 workspace: @uppy/aws-s3 5 wants @uppy/core 5 as a peer, the root has 6), and Uppy 6's
 * (companionEndpoint mode) with the token added by admin/direct-upload.ts. The parts go from the
 * browser to the local stack's S3 server (CORS following CORS_ORIGIN); the bytes must come back
 * identical through /assets.
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

/** What both pages do with their Uppy: add the files (given, or made from a seed) and upload them. */
const UPLOAD = `
import { bytes } from ${JSON.stringify(join(root, 'test/pseudo-random.ts'))};
export async function uploadWith(uppy, files) {
  for (const f of files) {
    const data = f.base64 ? Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0)) : bytes(f.size, f.seed);
    uppy.addFile({ name: f.name, type: f.type, data: new Blob([data], { type: f.type }) });
  }
  const result = await uppy.upload();
  return {
    successful: (result?.successful ?? []).map((f) => ({ name: f.name, location: f.response?.uploadURL ?? null })),
    failed: (result?.failed ?? []).map((f) => ({ name: f.name, error: String(f.error) })),
  };
}
`;

/** Each client's page script, and where its Uppy packages resolve from. */
const CLIENTS = {
  'Uppy 5 (endpoint + headers)': {
    nodePaths: [join(root, 'e2e/uppy5/node_modules'), join(root, 'node_modules')],
    entry: `
import Uppy from '@uppy/core';
import AwsS3 from '@uppy/aws-s3';
import { uploadWith } from './upload.js';
window.upload = (api, token, files) =>
  uploadWith(new Uppy().use(AwsS3, { endpoint: api + '/files', headers: { authorization: 'Bearer ' + token }, shouldUseMultipart: true, getChunkSize: () => 5 * 1024 * 1024 }), files);
`,
  },
  'Uppy 6 (companionEndpoint + withBearerToken)': {
    nodePaths: [join(root, 'node_modules')],
    entry: `
import Uppy from '@uppy/core';
import AwsS3 from '@uppy/aws-s3';
import { withBearerToken } from ${JSON.stringify(join(root, 'admin/direct-upload.ts'))};
import { uploadWith } from './upload.js';
window.upload = (api, token, files) => {
  withBearerToken(() => token, api);
  return uploadWith(new Uppy().use(AwsS3, { companionEndpoint: api + '/files', shouldUseMultipart: true, getChunkSize: () => 5 * 1024 * 1024 }), files);
};
`,
  },
} as const;
const bundleName = (client: string) => `${Object.keys(CLIENTS).indexOf(client)}.js`;

beforeAll(async () => {
  if (!CHROMIUM) throw new Error('chromium is not installed: .ci/run installs it (apt-get install chromium).');
  writeFileSync(join(dir, 'upload.js'), UPLOAD);
  for (const [client, { entry, nodePaths }] of Object.entries(CLIENTS)) {
    const file = join(dir, `entry-${bundleName(client)}`);
    writeFileSync(file, entry);
    await build({ entryPoints: [file], bundle: true, format: 'esm', outfile: join(dir, bundleName(client)), nodePaths: [...nodePaths], logLevel: 'silent' });
  }
  const port = await freePort();
  pageOrigin = `http://127.0.0.1:${port}`;
  server = createServer((req, res) => {
    const script = /^\/(\d+\.js)$/.exec(req.url ?? '')?.[1];
    if (script) return res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(join(dir, script)));
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><script type="module" src="/${new URL(req.url ?? '/', pageOrigin).searchParams.get('client')}"></script>`);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  stack = await startLocalStack({ vars: { CORS_ENABLED: 'true', CORS_ORIGIN: pageOrigin } });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  // A setup that failed early leaves no server: nothing to wait for.
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  rmSync(dir, { recursive: true, force: true });
});

describe('@uppy/aws-s3 against /files/s3', () => {
  it.each(Object.keys(CLIENTS))('%s uploads a photo and a multi-part file straight to the bucket; /assets serves the same bytes', async (client) => {
    const photo = readFileSync(join(root, 'test/fixtures/photo-meta.jpg'));
    const size = 12 * MiB + 4321;
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(`${pageOrigin}/?client=${bundleName(client)}`);
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
