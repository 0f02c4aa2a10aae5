import { existsSync, mkdirSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type LocalStack, STACK_TOKEN, startLocalStack, type StackOptions } from '../scripts/local-stack.ts';

/**
 * What the file library page's browser tests share: the stack, Chromium (Debian's, through
 * playwright-core), a page that records every console error, uncaught error and 5xx answer, and
 * the API as the tests check it. `expected` names the console errors a test causes on purpose
 * (the browser logs a refused request itself), each matched by its text and URL.
 */
export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
export const auth = { authorization: `Bearer ${STACK_TOKEN}` };

export interface FileJson { id: string; filename_download: string; title: string | null; checksum: string; folder: string | null; filesize: string; private_hash?: string }

export interface Harness {
  stack: LocalStack;
  browser: Browser;
  page: Page;
  /** Console errors, uncaught errors and 5xx answers seen so far (beyond the expected ones). */
  errors: string[];
  /** Console errors (text, URL) this run causes on purpose. */
  expected: { text: RegExp; url: RegExp }[];
  stop(): Promise<void>;
}

export async function startHarness(options: StackOptions = {}): Promise<Harness> {
  if (!CHROMIUM) throw new Error('chromium is not installed: .ci/run installs it (apt-get install chromium).');
  const stack = await startLocalStack(options);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const h: Harness = { stack, browser, page, errors: [], expected: [], stop: async () => {
    await browser.close();
    await stack.stop();
  } };
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const url = m.location().url;
    if (!h.expected.some((e) => e.text.test(m.text()) && e.url.test(url))) h.errors.push(`${m.text()} (${url})`);
  });
  page.on('pageerror', (e) => h.errors.push(e.message));
  // Which request failed, when one does (the console only says that one did).
  page.on('response', (r) => r.status() >= 500 && h.errors.push(`${r.status()} ${r.request().method()} ${r.url()}`));
  return h;
}

export async function signIn(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/admin`);
  await page.getByLabel('Access token').fill(STACK_TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('searchbox', { name: 'Search' }).waitFor();
}

export async function apiJson<T>(base: string, path: string, init: RequestInit = {}): Promise<T> {
  const headers = { ...auth, ...(typeof init.body === 'string' ? { 'content-type': 'application/json' } : {}) };
  const res = await fetch(`${base}${path}`, { ...init, headers: { ...headers, ...(init.headers as Record<string, string>) } });
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { data: T }).data;
}

export async function upload(base: string, name: string, bytes: Uint8Array<ArrayBuffer> | string, type: string, fields: Record<string, string> = {}): Promise<FileJson> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', new Blob([bytes], { type }), name);
  return apiJson<FileJson>(base, '/files', { method: 'POST', body: form });
}

export async function findFile(base: string, name: string): Promise<FileJson | undefined> {
  return (await apiJson<FileJson[]>(base, `/files?filter=${encodeURIComponent(JSON.stringify({ filename_download: { _eq: name } }))}`))[0];
}

export const makeFolder = (base: string, name: string, parent: string | null = null) => apiJson<{ id: string; name: string; parent: string | null }>(base, '/folders', { method: 'POST', body: JSON.stringify({ name, parent }) });

/**
 * With SCREENSHOTS=1, writes the page as it looks now to docs/screenshots/<name>-<width>-<scheme>.png
 * at 1280×900 and 390×844, light and dark (the README shows them), then puts the viewport back.
 */
export async function screenshots(page: Page, name: string, before?: () => Promise<void>): Promise<void> {
  if (!process.env.SCREENSHOTS) return;
  mkdirSync('docs/screenshots', { recursive: true });
  for (const [width, height] of [[1280, 900], [390, 844]] as const) {
    await page.setViewportSize({ width, height });
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await before?.();
      // No hover state in the picture.
      await page.mouse.move(0, height - 1);
      await page.waitForTimeout(300);
      await page.screenshot({ path: `docs/screenshots/${name}-${width}-${scheme}.png` });
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 900 });
}
