import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytes } from '../test/pseudo-random.ts';
import { auth, findFile, type Harness, screenshots, signIn, startHarness } from './admin-harness.ts';

/**
 * The file library page with ADMIN_DIRECT_UPLOAD_MIN_SIZE set (small here, so a 13 MiB file is
 * "large"): a large file goes from Chromium straight to the bucket in presigned parts of the
 * location's part size (5 MiB: three PUTs to the S3 server, none of its bytes through the Worker),
 * a small one over TUS, both into the open folder, with the page's policy letting the part PUTs
 * through (a refused connection is a console error) and the bytes identical through /assets.
 */
const MiB = 1024 * 1024;
let h: Harness;
let base: string;
const dir = mkdtempSync(join(tmpdir(), 'edge-assets-direct-page-'));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  h = await startHarness({ vars: { ADMIN_DIRECT_UPLOAD_MIN_SIZE: '8mb' } });
  base = h.stack.base;
}, 180_000);

afterAll(async () => {
  await h?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the file library page uploads large files straight to the bucket', () => {
  it('a 13 MiB file in three presigned parts, a small one over TUS; /assets serves the same bytes', async () => {
    const large = bytes(13 * MiB + 777, 27);
    const small = bytes(300 * 1024, 28);
    writeFileSync(join(dir, 'survey-footage.bin'), large);
    writeFileSync(join(dir, 'notes.bin'), small);
    const s3Origin = new URL(h.stack.s3.endpoint).origin;
    const requests: string[] = [];
    h.page.on('request', (r) => {
      const url = new URL(r.url());
      if (url.origin === s3Origin) requests.push(`${r.method()} s3 part ${url.searchParams.get('partNumber')}`);
      else if (url.pathname.startsWith('/files/tus') || url.pathname.startsWith('/files/s3')) requests.push(`${r.method()} ${url.pathname.split('/').slice(0, 4).join('/')}`);
    });
    await signIn(h.page, base);
    const chooser = h.page.waitForEvent('filechooser');
    await h.page.getByRole('button', { name: 'Upload', exact: true }).click();
    await (await chooser).setFiles([join(dir, 'survey-footage.bin'), join(dir, 'notes.bin')]);
    await expect.poll(() => h.page.locator('#upload-list li.done').count(), { timeout: 60_000 }).toBe(2);
    await screenshots(h.page, 'library-direct-upload');

    // The large file's parts went to the bucket, each after a signing call; the small one over TUS.
    expect(requests.filter((r) => r.startsWith('PUT s3')).sort()).toEqual(['PUT s3 part 1', 'PUT s3 part 2', 'PUT s3 part 3']);
    expect(requests).toContain('GET /files/s3/config');
    expect(requests).toContain('POST /files/s3/multipart');
    expect(requests).toContain('POST /files/tus');
    expect(requests.filter((r) => r.startsWith('PATCH /files/tus'))).toHaveLength(1);
    for (const [name, expected] of [['survey-footage.bin', large], ['notes.bin', small]] as const) {
      const record = await findFile(base, name);
      expect(record, name).toBeDefined();
      const res = await fetch(`${base}/assets/${record?.id}`, { headers: auth });
      expect(sha256(new Uint8Array(await res.arrayBuffer())), name).toBe(sha256(expected));
    }
    await h.page.getByRole('button', { name: /survey-footage\.bin/ }).waitFor();
    expect(h.errors).toEqual([]);
  }, 120_000);
});
