import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { api, bytes, type FileJson, sha256, testClient, untilAssembled } from '../helpers';

/**
 * The sweep judges liveness by the server's clock: a trigger that claims a time in the future (under
 * `wrangler dev`, `/cdn-cgi/handler/scheduled?time=…` from any web page) cannot make a live upload
 * look expired. Each forged run is repeated so that it covers a whole pass whatever the position the
 * last sweep left.
 */
const TUS = { 'tus-resumable': '1.0.0' };
const OCTETS = { 'content-type': 'application/offset+octet-stream' };
const YEAR = 365 * 24 * 3600_000;
const client = testClient();

async function forgedSweep(scheduledTime: number): Promise<void> {
  for (let run = 0; run < 3; run++) {
    const ctx = createExecutionContext();
    worker.scheduled(createScheduledController({ scheduledTime, cron: '*/30 * * * *' }), env, ctx);
    await waitOnExecutionContext(ctx);
  }
}

async function create(headers: Record<string, string>, body?: Uint8Array): Promise<string> {
  const res = await api('/files/tus', { method: 'POST', headers: { ...TUS, ...(body ? OCTETS : {}), ...headers }, ...(body ? { body } : {}) });
  expect(res.status, await res.clone().text()).toBe(201);
  return new URL(res.headers.get('location') ?? '').pathname;
}

const patch = (path: string, offset: number, body: Uint8Array, headers: Record<string, string> = {}) =>
  api(path, { method: 'PATCH', headers: { ...TUS, ...OCTETS, 'upload-offset': String(offset), ...headers }, body });
const staged = async (path: string) => (await client.listObjects({ prefix: `uploads/${path.split('/').pop()}/` })).objects.length;

async function stored(id: string | null): Promise<string> {
  const file = ((await (await api(`/files/${id}`)).json()) as { data: FileJson }).data;
  return sha256(new Uint8Array(await (await api(`/assets/${file.id}`)).arrayBuffer()));
}

const forged: [string, number][] = [
  ['five years ahead', Date.now() + 5 * YEAR],
  ['a month ahead', Date.now() + YEAR / 12],
  ['just past the grace', Date.now() + 2 * 3600_000],
  ['the last representable time', 8.64e15],
];

describe('a forged trigger time does not expire live uploads', () => {
  for (const [what, time] of forged) {
    it(`${what}: a half-sent upload keeps its staged bytes and completes`, async () => {
      const data = bytes(100, 5);
      // A deferred length: its first bytes are staged (a known length would open its one part).
      const path = await create({ 'upload-defer-length': '1' });
      expect((await patch(path, 0, data.slice(0, 10))).status).toBe(204);
      expect(await staged(path)).toBe(1);

      await forgedSweep(time);

      expect(await staged(path)).toBe(1);
      const done = await patch(path, 10, data.slice(10), { 'upload-length': '100' });
      expect(done.status, await done.clone().text()).toBe(204);
      expect(await stored(done.headers.get('directus-file-id'))).toBe(await sha256(data));
    });

    it(`${what}: a finished partial upload can still be concatenated`, async () => {
      const first = bytes(40, 8);
      const second = bytes(30, 9);
      const a = await create({ 'upload-length': '40', 'upload-concat': 'partial' }, first);
      const b = await create({ 'upload-length': '30', 'upload-concat': 'partial' }, second);

      await forgedSweep(time);

      const final = await api('/files/tus', { method: 'POST', headers: { ...TUS, 'upload-concat': `final;${a} ${b}` } });
      expect(final.status, await final.clone().text()).toBe(201);
      const done = await untilAssembled(new URL(final.headers.get('location') as string).pathname);
      expect(done.status).toBe(200);
      const whole = new Uint8Array(70);
      whole.set(first);
      whole.set(second, 40);
      expect(await stored(done.headers.get('directus-file-id'))).toBe(await sha256(whole));
    });
  }
});
