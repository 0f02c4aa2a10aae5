import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebhooksRepository } from '../../src/webhooks/repository';
import { newWebhookSecret } from '../../src/webhooks/signing';
import { SUBSCRIBERS_TTL_MS, subscribersOf } from '../../src/webhooks/subscribers';
import { api } from '../helpers';

// This file's workerd alone (see deliveries.test.ts): the receiver's address is opened here.
env.IMPORT_IP_ALLOW_LIST = '127.0.0.1/32';
const RECEIVER = 'http://127.0.0.1:7670';

afterEach(() => vi.restoreAllMocks());

/** env.DB, counting the statements prepared on it. */
function countingDb(): { db: D1Database; statements: () => number } {
  let n = 0;
  const db = new Proxy(env.DB, {
    get(target, key) {
      const value = Reflect.get(target, key) as unknown;
      if (key === 'prepare') return (query: string) => (n++, target.prepare(query));
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { db, statements: () => n };
}

const later = (ms: number) => {
  const now = Date.now();
  vi.spyOn(Date, 'now').mockReturnValue(now + ms);
};

const call = (path: string, method: string, body?: unknown) =>
  api(path, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });

describe('the webhooks a file event goes to', () => {
  it('are read from D1 once per isolate and SUBSCRIBERS_TTL_MS, whatever the number of events', async () => {
    const { db, statements } = countingDb();
    for (let i = 0; i < 20; i++) await subscribersOf(db, ['files.upload', 'files.update', 'files.delete'][i % 3] as string);
    expect(statements()).toBe(1);
    later(SUBSCRIBERS_TTL_MS);
    await subscribersOf(db, 'files.upload');
    expect(statements()).toBe(2);
  });

  it('a change through /webhooks is seen at once; one made by another isolate within SUBSCRIBERS_TTL_MS', async () => {
    const created = await call('/webhooks', 'POST', { url: `${RECEIVER}/hooks/memo-${crypto.randomUUID()}`, events: ['files.delete'] });
    const { id } = ((await created.json()) as { data: { id: string } }).data;
    expect(await subscribersOf(env.DB, 'files.delete')).toContain(id);
    expect(await subscribersOf(env.DB, 'files.upload')).not.toContain(id);

    // Written straight into D1, as another isolate's POST /webhooks would be: not seen until the memo expires.
    const elsewhere = await new WebhooksRepository(env.DB).insert({ id: crypto.randomUUID(), url: `${RECEIVER}/hooks/elsewhere`, events: ['files.delete'], paused: false, secret: newWebhookSecret() });
    expect(await subscribersOf(env.DB, 'files.delete')).not.toContain(elsewhere.id);
    later(SUBSCRIBERS_TTL_MS);
    expect(await subscribersOf(env.DB, 'files.delete')).toContain(elsewhere.id);
    vi.restoreAllMocks();

    expect((await call(`/webhooks/${id}`, 'PATCH', { paused: true })).status).toBe(200);
    expect(await subscribersOf(env.DB, 'files.delete')).not.toContain(id);
    expect((await call(`/webhooks/${id}`, 'PATCH', { paused: false, events: ['files.upload'] })).status).toBe(200);
    expect(await subscribersOf(env.DB, 'files.upload')).toContain(id);
    expect((await call(`/webhooks/${id}`, 'DELETE')).status).toBe(204);
    expect(await subscribersOf(env.DB, 'files.upload')).not.toContain(id);
  });
});
