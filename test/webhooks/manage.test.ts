import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { app } from '../../src/app';
import { parseConfig } from '../../src/config';
import type { DeliveryMessage } from '../../src/events/file-events';
import { deliverMessage, MAX_ATTEMPTS, RETRY_DELAYS_SECONDS } from '../../src/webhooks/deliver';
import { WebhooksRepository } from '../../src/webhooks/repository';
import { ADMIN_TOKEN, api, errorOf, newToken } from '../helpers';
import type { Received } from './receiver';

// This file's workerd alone (see deliveries.test.ts): the receiver's address is opened here.
env.IMPORT_IP_ALLOW_LIST = '127.0.0.1/32';
const RECEIVER = 'http://127.0.0.1:7670';

const json = (body: unknown, token?: string) => ({
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
  ...(token === undefined ? {} : { token }),
});

async function create(body: Record<string, unknown>) {
  return api('/webhooks', { method: 'POST', ...json(body) });
}

async function made(name: string, events = ['files.upload']): Promise<{ id: string; secret: string; url: string }> {
  const res = await create({ url: `${RECEIVER}/hooks/${name}`, events });
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { data: { id: string; secret: string; url: string } }).data;
}

afterEach(() => vi.restoreAllMocks());

describe('/webhooks is for admins only', () => {
  it('read and upload tokens are refused on every method; no token is a 401', async () => {
    const hook = await made(`scoped-${crypto.randomUUID()}`);
    for (const scope of ['read', 'upload'] as const) {
      const { token } = await newToken(scope);
      const tries = [
        api('/webhooks', { token }),
        api(`/webhooks/${hook.id}`, { token }),
        api(`/webhooks/${hook.id}/attempts`, { token }),
        api('/webhooks', { method: 'POST', ...json({ url: `${RECEIVER}/hooks/x`, events: ['files.upload'] }, token) }),
        api(`/webhooks/${hook.id}`, { method: 'PATCH', ...json({ paused: true }, token) }),
        api(`/webhooks/${hook.id}`, { method: 'DELETE', token }),
        api('/webhooks', { method: 'DELETE', ...json([hook.id], token) }),
      ];
      for (const res of await Promise.all(tries)) {
        const error = await errorOf(res);
        expect(error, scope).toMatchObject({ status: 403, code: 'FORBIDDEN' });
        expect(JSON.stringify(error)).not.toContain(hook.secret);
      }
    }
    expect((await api('/webhooks', { token: null })).status).toBe(401);
    // Nothing changed.
    const still = ((await (await api(`/webhooks/${hook.id}`)).json()) as { data: { paused: boolean } }).data;
    expect(still.paused).toBe(false);
  });
});

describe('the secret', () => {
  it('is a Standard Webhooks secret shown in the creation answer and in no other answer or log', async () => {
    const lines: string[] = [];
    for (const method of ['log', 'info', 'warn', 'error'] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(' ')));
    }
    const hook = await made(`secret-${crypto.randomUUID()}`);
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const answers = [
      await api('/webhooks'),
      await api(`/webhooks/${hook.id}`),
      await api(`/webhooks/${hook.id}`, { method: 'PATCH', ...json({ events: ['files.upload', 'files.delete'] }) }),
      await api(`/webhooks/${hook.id}/attempts`),
    ];
    for (const res of answers) {
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).not.toContain(hook.secret);
      expect(text).not.toContain('whsec_');
      expect(text).not.toContain('"secret"');
    }
    expect(lines.join('\n')).not.toContain(hook.secret.slice('whsec_'.length));
  });
});

describe('creating and changing', () => {
  it('lists, reads, changes and deletes as the other collections', async () => {
    const hook = await made(`crud-${crypto.randomUUID()}`, ['files.delete', 'files.delete', 'files.update']);
    const one = ((await (await api(`/webhooks/${hook.id}`)).json()) as { data: Record<string, unknown> }).data;
    expect(one).toMatchObject({ id: hook.id, url: hook.url, events: ['files.delete', 'files.update'], paused: false });
    expect(Object.keys(one).sort()).toEqual(['created_on', 'events', 'id', 'modified_on', 'paused', 'url']);
    const list = ((await (await api('/webhooks')).json()) as { data: { id: string }[] }).data;
    expect(list.map((w) => w.id)).toContain(hook.id);
    const changed = await api(`/webhooks/${hook.id}`, { method: 'PATCH', ...json({ url: `${RECEIVER}/hooks/elsewhere`, paused: true }) });
    expect(((await changed.json()) as { data: Record<string, unknown> }).data).toMatchObject({ url: `${RECEIVER}/hooks/elsewhere`, paused: true, events: ['files.delete', 'files.update'] });
    expect((await api(`/webhooks/${hook.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(await errorOf(await api(`/webhooks/${hook.id}`))).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    const other = await made(`crud2-${crypto.randomUUID()}`);
    expect(await errorOf(await api('/webhooks', { method: 'DELETE', ...json([other.id, crypto.randomUUID()]) }))).toMatchObject({ status: 404 });
    expect((await api(`/webhooks/${other.id}`)).status).toBe(200);
    expect((await api('/webhooks', { method: 'DELETE', ...json({ keys: [other.id] }) })).status).toBe(204);
  });

  it('refuses bad input with a message that says what to send', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ events: ['files.upload'] }, /"url"/],
      [{ url: `${RECEIVER}/hooks/x` }, /"events"/],
      [{ url: `${RECEIVER}/hooks/x`, events: [] }, /at least one event/],
      [{ url: `${RECEIVER}/hooks/x`, events: ['items.create'] }, /files\.upload, files\.update, files\.delete/],
      [{ url: `${RECEIVER}/hooks/x`, events: ['files.upload'], secret: 'whsec_mine' }, /secret/],
      [{ url: `${RECEIVER}/hooks/x`, events: ['files.upload'], paused: 'no' }, /"paused" must be true or false/],
      [{ url: 'ftp://127.0.0.1/x', events: ['files.upload'] }, /Only http/],
      [{ url: 'not a url', events: ['files.upload'] }, /not a valid URL/],
    ];
    for (const [body, message] of cases) {
      const error = await errorOf(await create(body));
      expect(error, JSON.stringify(body)).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
      expect(error.message).toMatch(message);
    }
  });

  it('refuses a URL the import guard refuses: non-public addresses not opened, and the deny list over the allow list', async () => {
    for (const url of ['http://127.0.0.2:7670/x', 'http://10.0.0.1/x', 'http://localhost:7670/x', 'http://169.254.169.254/latest/meta-data/']) {
      const error = await errorOf(await create({ url, events: ['files.upload'] }));
      expect(error, url).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
      expect(error.message).toMatch(/The webhook URL is refused: .*not allowed.*IMPORT_IP_ALLOW_LIST/);
    }
    const denied = { ...env, IMPORT_IP_DENY_LIST: '127.0.0.1' };
    const res = await app.request('/webhooks', { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ url: `${RECEIVER}/hooks/x`, events: ['files.upload'] }) }, denied);
    expect(await errorOf(res)).toMatchObject({ status: 400, message: expect.stringMatching(/IMPORT_IP_DENY_LIST/) });
    const hook = await made(`patch-${crypto.randomUUID()}`);
    const patched = await api(`/webhooks/${hook.id}`, { method: 'PATCH', ...json({ url: 'http://192.168.0.1/x' }) });
    expect(await errorOf(patched)).toMatchObject({ status: 400, message: expect.stringMatching(/private/) });
    expect(((await (await api(`/webhooks/${hook.id}`)).json()) as { data: { url: string } }).data.url).toBe(hook.url);
  });
});

/** A queue message as the consumer gets it, recording what the consumer did with it. */
function message(body: DeliveryMessage, attempts: number) {
  const done: { ack: number; retry: { delaySeconds?: number }[] } = { ack: 0, retry: [] };
  const m = {
    id: crypto.randomUUID(),
    timestamp: new Date(),
    body,
    attempts,
    ack: () => void done.ack++,
    retry: (options?: { delaySeconds?: number }) => void done.retry.push(options ?? {}),
  } as unknown as Message<DeliveryMessage>;
  return { m, done };
}

function delivery(webhook: string): DeliveryMessage {
  const data = { id: crypto.randomUUID() } as DeliveryMessage['event']['data'];
  return { id: `msg_${crypto.randomUUID()}`, webhook, event: { type: 'files.upload', timestamp: new Date().toISOString(), data } };
}

describe('the consumer', () => {
  const repo = new WebhooksRepository(env.DB);
  const config = parseConfig({ ...env, IMPORT_IP_ALLOW_LIST: '127.0.0.1/32' });
  const received = async (name: string): Promise<Received[]> => (await fetch(`${RECEIVER}/received/${name}`)).json();

  it('backs off on the schedule, and parks the last failure in the dead-letter queue', async () => {
    const name = `fail-${crypto.randomUUID()}`;
    const hook = await made(name);
    const parked: DeliveryMessage[] = [];
    const deadLetters = { send: async (body: DeliveryMessage) => void parked.push(body) } as unknown as Queue<DeliveryMessage>;
    const body = delivery(hook.id);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const { m, done } = message(body, attempt);
      await deliverMessage(m, { config, repo, env: { WEBHOOK_DEAD_LETTERS: deadLetters } });
      if (attempt < MAX_ATTEMPTS) expect(done).toEqual({ ack: 0, retry: [{ delaySeconds: RETRY_DELAYS_SECONDS[attempt - 1] }] });
      else expect(done).toEqual({ ack: 1, retry: [] });
    }
    expect(RETRY_DELAYS_SECONDS).toEqual([5, 300, 1800, 7200, 18000, 36000, 36000]);
    expect(parked).toEqual([body]);
    const sent = await received(name);
    expect(sent).toHaveLength(MAX_ATTEMPTS);
    expect(new Set(sent.map((r) => r.headers['webhook-id']))).toEqual(new Set([body.id]));
    const attempts = ((await (await api(`/webhooks/${hook.id}/attempts`)).json()) as { data: { attempt: number; outcome: string; status: number }[] }).data;
    expect(attempts[0]).toMatchObject({ attempt: MAX_ATTEMPTS, outcome: 'dead', status: 503 });
    expect(attempts.slice(1).every((a) => a.outcome === 'retrying')).toBe(true);
  });

  it('refuses at delivery a URL the deny list names now, and sends nothing', async () => {
    const name = `later-denied-${crypto.randomUUID()}`;
    const hook = await made(name);
    const denied = parseConfig({ ...env, IMPORT_IP_ALLOW_LIST: '127.0.0.1/32', IMPORT_IP_DENY_LIST: '127.0.0.0/8' });
    const { m, done } = message(delivery(hook.id), 1);
    await deliverMessage(m, { config: denied, repo, env: {} });
    expect(done.retry).toEqual([{ delaySeconds: 5 }]);
    expect(await received(name)).toEqual([]);
    const [attempt] = ((await (await api(`/webhooks/${hook.id}/attempts`)).json()) as { data: { status: number | null; error: string }[] }).data;
    expect(attempt).toMatchObject({ status: null, error: expect.stringMatching(/refused now.*IMPORT_IP_DENY_LIST/) });
  });

  it('drops a message whose webhook was deleted or paused since', async () => {
    const name = `gone-${crypto.randomUUID()}`;
    const hook = await made(name);
    await api(`/webhooks/${hook.id}`, { method: 'PATCH', ...json({ paused: true }) });
    const paused = message(delivery(hook.id), 1);
    await deliverMessage(paused.m, { config, repo, env: {} });
    await api(`/webhooks/${hook.id}`, { method: 'DELETE' });
    const deleted = message(delivery(hook.id), 1);
    await deliverMessage(deleted.m, { config, repo, env: {} });
    expect([paused.done, deleted.done]).toEqual([{ ack: 1, retry: [] }, { ack: 1, retry: [] }]);
    expect(await received(name)).toEqual([]);
  });
});
