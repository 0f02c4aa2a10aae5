import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_TOKEN } from '../scripts/local-stack.ts';
import { bytes } from '../test/pseudo-random.ts';
import { auth, type FileJson, findFile as find, type Harness, makeFolder, startHarness } from './admin-harness.ts';

/**
 * The file library page in a real browser (Debian's chromium through playwright-core) against
 * `wrangler dev`: signing in, uploading, editing, settings, the page's policy; what a person does,
 * checked through the API. The library's folders, views, selection and previews are in
 * admin-library.e2e.test.ts.
 */
const MiB = 1024 * 1024;
let h: Harness;
let folder: { id: string };
const dir = mkdtempSync(join(tmpdir(), 'edge-assets-admin-'));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const findFile = (name: string) => find(h.stack.base, name);
async function storedBytes(id: string): Promise<Uint8Array> {
  return new Uint8Array(await (await fetch(`${h.stack.base}/assets/${id}`, { headers: auth })).arrayBuffer());
}

beforeAll(async () => {
  h = await startHarness({ vars: { ASSETS_SIGNING_KEY: 'admin-page-test-signing-key-0123456789abcdef' } });
  // A folder the page lists from sign-in on.
  folder = await makeFolder(h.stack.base, 'Landscapes');
  // A paused upload's request is cut (a reset connection, a cut answer) and its resume may meet the server still
  // finishing it (423, then 409 and a HEAD): TUS's own recovery, which the browser logs as errors.
  h.expected.push({ text: /status of 4(09|23)|ERR_CONNECTION_RESET|ERR_INCOMPLETE_CHUNKED_ENCODING/, url: /\/files\/tus\// });
}, 180_000);

afterAll(async () => {
  await h?.stop();
});

async function addFiles(paths: string[]): Promise<void> {
  await h.page.locator('#upload-input').setInputFiles(paths);
}

describe('/admin', () => {
  it('serves the page with a strict Content-Security-Policy', async () => {
    const res = await fetch(`${h.stack.base}/admin/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    // Its own files only: 'self' would also trust uploads under /assets on this origin.
    expect(csp).toContain(`script-src ${h.stack.base}/admin/;`);
    expect(csp).toContain(`style-src ${h.stack.base}/admin/;`);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe');
  });

  it('a wrong token shows the API\'s message; the right one signs in', async () => {
    await h.page.goto(`${h.stack.base}/admin`);
    await h.page.getByLabel('Access token').fill('not-a-token');
    await h.page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => h.page.locator('#signin-error').textContent()).toMatch(/Invalid user credentials/);
    // The browser reports the refused request itself as a console error: that one is expected.
    h.errors.length = 0;
    await h.page.getByLabel('Access token').fill(STACK_TOKEN);
    await h.page.getByRole('button', { name: 'Sign in' }).click();
    await h.page.getByRole('searchbox', { name: 'Search' }).waitFor();
    expect(await h.page.evaluate(() => location.href)).not.toContain(STACK_TOKEN);
    expect(await h.page.evaluate(() => sessionStorage.getItem('edge-assets-token'))).toBe(STACK_TOKEN);
  });

  it('uploads a photo and a 12 MiB file through the file input; both land byte for byte and show in the grid', async () => {
    const photo = await sharp({ create: { width: 900, height: 600, channels: 3, background: '#3a7bd5' } })
      .composite([{ input: Buffer.from('<svg width="900" height="600"><circle cx="450" cy="300" r="200" fill="#f6c945"/></svg>') }])
      .jpeg({ quality: 85 })
      .toBuffer();
    const big = Buffer.from(bytes(12 * MiB, 12));
    writeFileSync(join(dir, 'sunrise-photo.jpg'), photo);
    writeFileSync(join(dir, 'twelve.bin'), big);
    await addFiles([join(dir, 'sunrise-photo.jpg'), join(dir, 'twelve.bin')]);
    await expect.poll(async () => (await findFile('twelve.bin'))?.checksum, { timeout: 60_000 }).toBe(sha256(big));
    const stored = await findFile('sunrise-photo.jpg');
    expect(stored?.checksum).toBe(sha256(photo));
    expect(sha256(await storedBytes(stored?.id ?? ''))).toBe(sha256(photo));
    // The grid shows both, the photo with its thumbnail loaded (an object URL fetched with the token).
    const card = h.page.getByRole('button', { name: /sunrise-photo\.jpg/ });
    await card.waitFor();
    await h.page.getByRole('button', { name: /twelve\.bin/ }).waitFor();
    await expect.poll(() => card.locator('img').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), { timeout: 20_000 }).toBe(300);
  });

  it('search finds the photo; its details edit the title; delete removes it', async () => {
    await h.page.getByRole('searchbox', { name: 'Search' }).fill('sunrise');
    await expect.poll(() => h.page.locator('#grid li').count()).toBe(1);
    await h.page.getByRole('button', { name: /sunrise-photo\.jpg/ }).click();
    const dialog = h.page.getByRole('dialog');
    await dialog.waitFor();
    await expect.poll(() => h.page.locator('#details-preview').evaluate((img: HTMLImageElement) => img.naturalWidth), { timeout: 20_000 }).toBe(800);
    await dialog.getByLabel('Title').fill('Sunrise over the bay');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect.poll(async () => (await findFile('sunrise-photo.jpg'))?.title).toBe('Sunrise over the bay');
    h.page.once('dialog', (d) => void d.accept());
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await expect.poll(async () => findFile('sunrise-photo.jpg')).toBeUndefined();
    await h.page.getByRole('searchbox', { name: 'Search' }).fill('');
  });

  it('a 30 MiB upload pauses and resumes, and lands byte for byte', async () => {
    const data = Buffer.from(bytes(30 * MiB, 30));
    writeFileSync(join(dir, 'thirty.bin'), data);
    await addFiles([join(dir, 'thirty.bin')]);
    const pause = h.page.getByRole('button', { name: 'Pause thirty.bin' });
    await pause.click();
    await h.page.getByRole('button', { name: 'Resume thirty.bin' }).waitFor();
    const paused = await findFile('thirty.bin');
    expect(paused).toBeUndefined();
    await h.page.getByRole('button', { name: 'Resume thirty.bin' }).click();
    await expect.poll(async () => (await findFile('thirty.bin'))?.checksum, { timeout: 90_000 }).toBe(sha256(data));
  });

  it('filters by folder and by type; the focal point, access, signed URL and hash rotation work from the details', async () => {
    const form = new FormData();
    form.append('folder', folder.id);
    form.append('file', new Blob([await sharp({ create: { width: 600, height: 400, channels: 3, background: '#2f855a' } }).png().toBuffer()]), 'meadow.png');
    const made = ((await (await fetch(`${h.stack.base}/files`, { method: 'POST', body: form, headers: auth })).json()) as { data: FileJson & { private_hash: string } }).data;
    await h.page.getByRole('navigation', { name: 'Folders' }).getByRole('button', { name: 'Landscapes' }).click();
    await expect.poll(() => h.page.locator('#grid li').count()).toBe(1);
    await h.page.getByRole('navigation', { name: 'Folders' }).getByRole('button', { name: 'All files' }).click();
    await h.page.getByLabel('Type').selectOption('image/');
    await expect.poll(() => h.page.locator('#grid li').count()).toBe(1);
    await h.page.getByRole('button', { name: /meadow\.png/ }).click();
    const dialog = h.page.getByRole('dialog', { name: 'Meadow' });
    await dialog.waitFor();
    // system-large-contain is 800 wide, as Directus's (which enlarges too).
    await expect.poll(() => h.page.locator('#details-preview').evaluate((img: HTMLImageElement) => img.naturalWidth), { timeout: 20_000 }).toBe(800);
    // A click at three quarters across and a quarter down is the focal point, in the file's pixels.
    const box = await h.page.locator('#details-preview').boundingBox();
    await h.page.mouse.click((box?.x ?? 0) + (box?.width ?? 0) * 0.75, (box?.y ?? 0) + (box?.height ?? 0) * 0.25);
    const file = async () => ((await (await fetch(`${h.stack.base}/files/${made.id}`, { headers: auth })).json()) as { data: { focal_point_x: number; focal_point_y: number; access: string; private_hash: string } }).data;
    // (Within two pixels: the click lands on a screen pixel of the scaled preview.)
    await expect.poll(async () => {
      const { focal_point_x: x, focal_point_y: y } = await file();
      return Math.abs(x - 450) <= 2 && Math.abs(y - 100) <= 2 ? 'there' : `${x}, ${y}`;
    }).toBe('there');
    await dialog.getByLabel('Private').check();
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect.poll(async () => (await file()).access).toBe('private');
    await dialog.getByRole('button', { name: 'Make signed URL' }).click();
    await expect.poll(() => h.page.locator('#details-output').textContent()).toMatch(new RegExp(`/assets/${made.id}\\?.*signature=`));
    const signed = (await h.page.locator('#details-output').textContent()) ?? '';
    expect((await fetch(signed)).status).toBe(200);
    await dialog.getByRole('button', { name: 'Rotate private hash' }).click();
    await expect.poll(async () => (await file()).private_hash).not.toBe(made.private_hash);
    await dialog.getByRole('button', { name: 'Close' }).click();
    await h.page.getByLabel('Type').selectOption('');
  });

  it('Settings changes the transform mode', async () => {
    await h.page.getByRole('link', { name: 'Settings' }).click();
    await h.page.getByLabel('Transform mode').selectOption('presets');
    await h.page.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(() => h.page.locator('#settings-status').textContent()).toBe('Settings saved.');
    const settings = (await (await fetch(`${h.stack.base}/settings`, { headers: auth })).json()) as { data: { storage_asset_transform: string } };
    expect(settings.data.storage_asset_transform).toBe('presets');
    await h.page.getByLabel('Transform mode').selectOption('all');
    await h.page.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(() => h.page.locator('#settings-status').textContent()).toBe('Settings saved.');
  });

  it('fits a phone-width screen without scrolling sideways', async () => {
    await h.page.getByRole('link', { name: 'Files' }).click();
    await h.page.setViewportSize({ width: 390, height: 800 });
    await h.page.getByRole('searchbox', { name: 'Search' }).waitFor();
    expect(await h.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await h.page.setViewportSize({ width: 1280, height: 900 });
  });

  it('signs out, and no console error happened on the way', async () => {
    await h.page.getByRole('button', { name: 'Sign out' }).click();
    await h.page.getByLabel('Access token').waitFor();
    expect(await h.page.evaluate(() => sessionStorage.getItem('edge-assets-token'))).toBeNull();
    expect(h.errors, h.errors.join('\n')).toEqual([]);
  });

  it('an uploaded script or stylesheet cannot run in the page: its policy refuses /assets', async () => {
    const upload = async (name: string, type: string, text: string) => {
      const body = new FormData();
      body.append('file', new File([text], name, { type }));
      const res = await fetch(`${h.stack.base}/files`, { method: 'POST', body, headers: auth });
      return ((await res.json()) as { data: { id: string } }).data.id;
    };
    const script = await upload('evil.js', 'text/javascript', 'window.pwned = true;');
    const style = await upload('evil.css', 'text/css', 'body { background-color: rgb(1, 2, 3) }');
    const other = await h.browser.newPage();
    await other.goto(`${h.stack.base}/admin/`);
    const seen = await other.evaluate(async ([scriptUrl, styleUrl]) => {
      const violations: string[] = [];
      document.addEventListener('securitypolicyviolation', (e) => violations.push(`${e.effectiveDirective} ${e.blockedURI}`));
      const load = (el: HTMLScriptElement | HTMLLinkElement) =>
        new Promise<string>((resolve) => {
          el.onload = () => resolve('loaded');
          el.onerror = () => resolve('refused');
          document.head.append(el);
        });
      const s = Object.assign(document.createElement('script'), { src: scriptUrl });
      const l = Object.assign(document.createElement('link'), { rel: 'stylesheet', href: styleUrl });
      const outcomes = [await load(s), await load(l)];
      await new Promise((r) => setTimeout(r, 200));
      return { outcomes, violations, pwned: 'pwned' in window, background: getComputedStyle(document.body).backgroundColor };
    }, [`/assets/${script}`, `/assets/${style}`]);
    await other.close();
    expect(seen.outcomes).toEqual(['refused', 'refused']);
    expect(seen.pwned).toBe(false);
    expect(seen.background).not.toBe('rgb(1, 2, 3)');
    expect(seen.violations).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^script-src-elem .*/assets/${script}`)), expect.stringMatching(new RegExp(`^style-src-elem .*/assets/${style}`))]));
  });
});
