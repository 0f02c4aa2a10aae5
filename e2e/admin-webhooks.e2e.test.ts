import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiJson, auth, type Harness, screenshots, signIn, startHarness, upload } from './admin-harness.ts';

/**
 * Settings → Webhooks in a real browser: a webhook made on the page to a receiver on 127.0.0.1 (which
 * the stack's IMPORT_IP_ALLOW_LIST opens), its secret shown once and copied, an upload's delivery
 * appearing among its attempts, a failing receiver's retries and a dead-lettered delivery told apart,
 * pause/resume and delete; and no console error or 5xx on the way.
 */
let h: Harness;
let base: string;
let receiver: http.Server;
let hooks: string;
const got: { path: string; headers: http.IncomingHttpHeaders }[] = [];
const section = () => h.page.locator('#webhooks-panel');
const item = (url: string) => section().getByRole('listitem', { name: `Webhook ${url}` });

beforeAll(async () => {
  // /ok answers 204; /down answers 500, always.
  receiver = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      got.push({ path: req.url ?? '', headers: req.headers });
      res.writeHead(req.url === '/down' ? 500 : 204).end();
    });
  });
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  hooks = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  h = await startHarness({ vars: { IMPORT_IP_ALLOW_LIST: '127.0.0.1/32' } });
  base = h.stack.base;
  await h.page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
}, 180_000);

afterAll(async () => {
  await h?.stop();
  receiver?.close();
});

/** Writes straight into the stack's D1, as the consumer does after an 8th failure (a day of retries, too long to wait for). */
function recordDeadAttempt(webhook: string, file: string): void {
  const wrangler = join(dirname(createRequire(import.meta.url).resolve('wrangler/package.json')), 'bin', 'wrangler.js');
  const at = new Date(Date.now() - 60_000).toISOString();
  const sql = `insert into webhook_attempts (webhook_id, message_id, event, file_id, attempt, status, outcome, error, duration_ms, attempted_on) values ('${webhook}', 'msg_e2e_dead', 'files.upload', '${file}', 8, 500, 'dead', 'The receiver answered 500; only a 2xx answer counts as delivered.', 12, '${at}')`;
  const done = spawnSync(process.execPath, [wrangler, 'd1', 'execute', 'DB', '--local', '--persist-to', h.stack.persist, '--command', sql], { encoding: 'utf8', env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' } });
  if (done.status !== 0) throw new Error(`d1 execute: ${done.stderr}`);
}

describe('/admin Settings: webhooks', () => {
  it('adds a webhook: its secret is shown once, copied, and gone from the page once dismissed', async () => {
    await signIn(h.page, base);
    await h.page.getByRole('link', { name: 'Settings' }).click();
    await section().getByText('No webhooks yet.').waitFor();
    await h.page.getByLabel('Receiver URL').fill(`${hooks}/ok`);
    await section().getByLabel('files.delete').uncheck();
    await section().getByRole('button', { name: 'Add webhook' }).click();
    const secret = h.page.locator('#webhook-secret-value');
    await expect.poll(() => secret.textContent()).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const shown = (await secret.textContent()) as string;
    expect(await h.page.locator('#webhook-secret').textContent()).toMatch(/shown this once/);
    await item(`${hooks}/ok`).waitFor();
    expect(await item(`${hooks}/ok`).textContent()).toMatch(/Active.*files\.upload, files\.update ·/);
    const [made] = await apiJson<{ id: string; events: string[]; paused: boolean }[]>(base, '/webhooks');
    expect(made).toMatchObject({ events: ['files.upload', 'files.update'], paused: false });
    // The list and the attempts never carry it: only the creation answer did.
    expect(JSON.stringify(await apiJson(base, '/webhooks'))).not.toContain(shown);

    await section().getByRole('button', { name: 'Copy secret' }).click();
    await expect.poll(() => h.page.evaluate(() => navigator.clipboard.readText())).toBe(shown);
    await expect.poll(() => h.page.locator('#webhooks-status').textContent()).toBe('Secret copied.');
    await section().getByRole('button', { name: 'I have copied it' }).click();
    await h.page.locator('#webhook-secret').waitFor({ state: 'hidden' });
    expect(await h.page.content()).not.toContain(shown);
  });

  it('an upload\'s delivery appears among the attempts; a failing receiver\'s retries and a dead-lettered delivery are told apart', async () => {
    await h.page.getByLabel('Receiver URL').fill(`${hooks}/down`);
    await section().getByRole('button', { name: 'Add webhook' }).click();
    await item(`${hooks}/down`).waitFor();
    await section().getByRole('button', { name: 'I have copied it' }).click();
    const file = await upload(base, 'hooked.txt', 'delivered to a webhook', 'text/plain');

    // Without reloading: the page reads the attempts again while Settings is open.
    const ok = item(`${hooks}/ok`).locator('tbody tr');
    await expect.poll(() => ok.count(), { timeout: 20_000 }).toBe(1);
    expect(await ok.locator('td').allTextContents()).toEqual([expect.any(String), 'files.upload', file.id, '1', '204', 'Delivered', '']);
    expect(got.some((g) => g.path === '/ok' && typeof g.headers['webhook-signature'] === 'string')).toBe(true);

    const down = item(`${hooks}/down`).locator('tbody tr');
    await expect.poll(() => down.count(), { timeout: 20_000 }).toBeGreaterThanOrEqual(1);
    expect(await down.last().locator('td').allTextContents()).toEqual([expect.any(String), 'files.upload', file.id, '1', '500', 'Failed, will retry', 'The receiver answered 500; only a 2xx answer counts as delivered.']);

    const [, failing] = await apiJson<{ id: string; url: string }[]>(base, '/webhooks');
    expect(failing?.url).toBe(`${hooks}/down`);
    recordDeadAttempt(failing?.id as string, file.id);
    await section().getByRole('button', { name: 'Refresh' }).click();
    const dead = item(`${hooks}/down`).locator('tbody tr.dead');
    await expect.poll(() => dead.count()).toBe(1);
    expect(await dead.locator('td').nth(5).textContent()).toBe('Dead-lettered');
    expect(await item(`${hooks}/down`).locator('.dead-count').textContent()).toBe('1 dead-lettered');
    // The dead-lettered row stands out from the retries beside it.
    const tint = (row: typeof dead) => row.locator('td').first().evaluate((n) => getComputedStyle(n).backgroundColor);
    expect(await tint(dead)).not.toBe(await tint(item(`${hooks}/down`).locator('tbody tr.retrying').first()));
  });

  it('pauses, resumes and deletes', async () => {
    await item(`${hooks}/ok`).getByRole('button', { name: `Pause ${hooks}/ok` }).click();
    await expect.poll(() => item(`${hooks}/ok`).locator('.state').textContent()).toBe('Paused');
    expect((await apiJson<{ url: string; paused: boolean }[]>(base, '/webhooks')).find((w) => w.url === `${hooks}/ok`)?.paused).toBe(true);
    await item(`${hooks}/ok`).getByRole('button', { name: `Resume ${hooks}/ok` }).click();
    await expect.poll(() => item(`${hooks}/ok`).locator('.state').textContent()).toBe('Active');
    expect((await apiJson<{ url: string; paused: boolean }[]>(base, '/webhooks')).find((w) => w.url === `${hooks}/ok`)?.paused).toBe(false);

    await screenshots(h.page, 'settings-webhooks', async () => {
      await item(`${hooks}/down`).scrollIntoViewIfNeeded();
    });

    h.page.once('dialog', (d) => void d.accept());
    await item(`${hooks}/down`).getByRole('button', { name: `Delete ${hooks}/down` }).click();
    await item(`${hooks}/down`).waitFor({ state: 'detached' });
    expect((await apiJson<{ url: string }[]>(base, '/webhooks')).map((w) => w.url)).toEqual([`${hooks}/ok`]);
  });

  it('a URL the guard refuses is refused on the page with the API\'s message', async () => {
    // Loopback, but not the one address IMPORT_IP_ALLOW_LIST opens. The browser logs the 400 itself.
    h.expected.push({ text: /status of 400/, url: /\/webhooks$/ });
    await h.page.getByLabel('Receiver URL').fill('http://127.0.0.2/hook');
    await section().getByRole('button', { name: 'Add webhook' }).click();
    await expect.poll(() => h.page.locator('#webhooks-status').textContent()).toMatch(/refused.*IMPORT_IP_ALLOW_LIST/);
    expect(await h.page.locator('#webhook-secret').isHidden()).toBe(true);
    expect(await fetch(`${base}/webhooks`, { headers: auth }).then((r) => r.json())).toMatchObject({ data: [{ url: `${hooks}/ok` }] });
  });

  it('no console error, uncaught error or 5xx answer happened on the way', () => {
    expect(h.errors, h.errors.join('\n')).toEqual([]);
  });
});
