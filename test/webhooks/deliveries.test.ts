import { env } from 'cloudflare:test';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { api, form, type FileJson, tusMetadata, uploadFile } from '../helpers';
import type { Received } from './receiver';

// Each test file runs in a workerd of its own (the pool's default), so this opens the receiver's
// address for this file's Worker alone, before its config is first read. Deliveries go to
// 127.0.0.1 only.
env.IMPORT_IP_ALLOW_LIST = '127.0.0.1/32';
const RECEIVER = 'http://127.0.0.1:7670';

interface Delivery {
  id: string;
  type: string;
  timestamp: string;
  data: FileJson;
  headers: Record<string, string>;
}

async function subscribe(name: string, events: string[], extra: Record<string, unknown> = {}): Promise<{ id: string; secret: string }> {
  const res = await api('/webhooks', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: `${RECEIVER}/hooks/${name}`, events, ...extra }) });
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { data: { id: string; secret: string } }).data;
}

async function received(name: string): Promise<Received[]> {
  return (await fetch(`${RECEIVER}/received/${name}`)).json();
}

/** Every delivery `name` got, each verified with the standardwebhooks package (which throws on a bad signature). */
async function verified(name: string, secret: string): Promise<Delivery[]> {
  const hook = new Webhook(secret);
  return (await received(name)).map((r) => ({ ...(hook.verify(r.body, r.headers) as Omit<Delivery, 'headers' | 'id'>), id: r.headers['webhook-id'] as string, headers: r.headers }));
}

/** Waits until `name` has received what `done` wants (deliveries come from the queue, after the answer). */
async function until(name: string, secret: string, done: (d: Delivery[]) => boolean, seconds = 20): Promise<Delivery[]> {
  for (let i = 0; i < seconds * 10; i++) {
    const deliveries = await verified(name, secret);
    if (done(deliveries)) return deliveries;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} got ${JSON.stringify(await received(name))}`);
}

const of = (deliveries: Delivery[], type: string, file: string) => deliveries.filter((d) => d.type === type && d.data.id === file);
const json = (body: unknown) => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('each path that makes, changes or removes a file is delivered, signed', () => {
  const all = ['files.upload', 'files.update', 'files.delete'];

  it('POST /files, PATCH, replacement and DELETE', async () => {
    const name = `all-${crypto.randomUUID()}`;
    const { secret } = await subscribe(name, all);
    const file = await uploadFile({ name: 'a.txt', data: 'first bytes', type: 'text/plain' }, { title: 'A' });
    const patched = await api(`/files/${file.id}`, { method: 'PATCH', ...json({ title: 'B' }) });
    expect(patched.status).toBe(200);
    const replaced = await api(`/files/${file.id}`, { method: 'PATCH', body: form([{ name: 'b.txt', data: 'second, longer bytes', type: 'text/plain' }]) });
    expect(replaced.status).toBe(200);
    expect((await api(`/files/${file.id}`, { method: 'DELETE' })).status).toBe(204);

    const deliveries = await until(name, secret, (d) => of(d, 'files.delete', file.id).length === 1);
    const [upload, replacement] = of(deliveries, 'files.upload', file.id);
    expect(upload?.data).toMatchObject({ id: file.id, title: 'A', filesize: '11', filename_download: 'a.txt' });
    // The record as an admin reads it, private hash included.
    expect(upload?.data.private_hash).toBe(file.private_hash);
    expect(of(deliveries, 'files.update', file.id)[0]?.data).toMatchObject({ title: 'B', filesize: '11' });
    expect(replacement?.data).toMatchObject({ id: file.id, filesize: '20', filename_download: 'b.txt' });
    expect(of(deliveries, 'files.delete', file.id)[0]?.data).toMatchObject({ id: file.id, filesize: '20' });
    expect(deliveries).toHaveLength(4);
    for (const d of deliveries) {
      expect(d.headers['webhook-id']).toMatch(/^msg_[\w-]{22}$/);
      expect(d.headers['content-type']).toBe('application/json');
      expect(Math.abs(Number(d.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
      expect(Date.parse(d.timestamp)).not.toBeNaN();
    }
    expect(new Set(deliveries.map((d) => d.id)).size).toBe(4);
  });

  it('a forged or re-signed delivery does not verify', async () => {
    const name = `forged-${crypto.randomUUID()}`;
    const { secret } = await subscribe(name, ['files.upload']);
    const file = await uploadFile({ name: 'f.txt', data: 'x', type: 'text/plain' });
    await until(name, secret, (d) => d.length === 1);
    const [r] = await received(name);
    const hook = new Webhook(secret);
    expect(() => hook.verify((r as Received).body.replace(file.id, crypto.randomUUID()), (r as Received).headers)).toThrow();
    const other = await subscribe(`other-${crypto.randomUUID()}`, ['files.delete']);
    expect(() => new Webhook(other.secret).verify((r as Received).body, (r as Received).headers)).toThrow();
  });

  it('POST /files/import (here from the receiver, an address IMPORT_IP_ALLOW_LIST opens)', async () => {
    const name = `import-${crypto.randomUUID()}`;
    const { secret } = await subscribe(name, ['files.upload']);
    const res = await api('/files/import', { method: 'POST', ...json({ url: `${RECEIVER}/files/${name}.txt` }) });
    expect(res.status, await res.clone().text()).toBe(200);
    const file = ((await res.json()) as { data: FileJson }).data;
    const [delivery] = await until(name, secret, (d) => d.length === 1);
    expect(delivery?.data).toMatchObject({ id: file.id, filename_download: `${name}.txt`, type: 'text/plain' });
  });

  it('a TUS upload, at its completion', async () => {
    const name = `tus-${crypto.randomUUID()}`;
    const { secret } = await subscribe(name, ['files.upload']);
    const bytes = new TextEncoder().encode('bytes sent with TUS');
    const created = await api('/files/tus', {
      method: 'POST',
      headers: { 'tus-resumable': '1.0.0', 'upload-length': String(bytes.byteLength), 'upload-metadata': tusMetadata({ filename: 'tus.txt', title: 'By TUS' }) },
    });
    expect(created.status).toBe(201);
    const path = new URL(created.headers.get('location') as string).pathname;
    const done = await api(path, { method: 'PATCH', headers: { 'tus-resumable': '1.0.0', 'content-type': 'application/offset+octet-stream', 'upload-offset': '0' }, body: bytes });
    expect(done.status).toBe(204);
    const id = done.headers.get('directus-file-id');
    const [delivery] = await until(name, secret, (d) => d.length === 1);
    expect(delivery?.data).toMatchObject({ id, title: 'By TUS', filename_download: 'tus.txt', filesize: String(bytes.byteLength) });
  });

  it('a batch delete: one event per file', async () => {
    const name = `batch-${crypto.randomUUID()}`;
    const { secret } = await subscribe(name, ['files.delete']);
    const files = [await uploadFile({ name: '1.txt', data: '1' }), await uploadFile({ name: '2.txt', data: '2' })];
    expect((await api('/files', { method: 'DELETE', ...json(files.map((f) => f.id)) })).status).toBe(204);
    const deliveries = await until(name, secret, (d) => d.length === 2);
    expect(deliveries.map((d) => d.data.id).sort()).toEqual(files.map((f) => f.id).sort());
    // Subscribed to deletes only: the uploads were not sent.
    expect(deliveries.every((d) => d.type === 'files.delete')).toBe(true);
  });
});

describe('delivery', () => {
  it('a paused webhook gets nothing; resumed, it gets what follows', async () => {
    const name = `paused-${crypto.randomUUID()}`;
    const witness = `witness-${crypto.randomUUID()}`;
    const hook = await subscribe(name, ['files.upload'], { paused: true });
    const seen = await subscribe(witness, ['files.upload']);
    const before = await uploadFile({ name: 'p.txt', data: 'p' });
    // The witness got the upload, so the paused webhook had its chance.
    await until(witness, seen.secret, (d) => of(d, 'files.upload', before.id).length === 1);
    const resumed = await api(`/webhooks/${hook.id}`, { method: 'PATCH', ...json({ paused: false }) });
    expect(((await resumed.json()) as { data: { paused: boolean } }).data.paused).toBe(false);
    const after = await uploadFile({ name: 'q.txt', data: 'q' });
    const deliveries = await until(name, hook.secret, (d) => d.length >= 1);
    expect(deliveries.map((d) => d.data.id)).toEqual([after.id]);
  });

  it('a receiver that fails then recovers gets the same webhook-id again, and the attempts say so', async () => {
    const name = `fail-once-${crypto.randomUUID()}`;
    const hook = await subscribe(name, ['files.upload']);
    const file = await uploadFile({ name: 'r.txt', data: 'r' });
    const deliveries = await until(name, hook.secret, (d) => d.length === 2, 30);
    expect(deliveries[0]?.id).toBe(deliveries[1]?.id);
    expect(deliveries[1]?.data.id).toBe(file.id);
    // A retry is signed anew, at its own time, with the same id.
    expect(Number(deliveries[1]?.headers['webhook-timestamp'])).toBeGreaterThanOrEqual(Number(deliveries[0]?.headers['webhook-timestamp']) + 4);
    let attempts: { attempt: number; status: number; outcome: string; message_id: string; file_id: string; error: string | null }[] = [];
    for (let i = 0; i < 50 && attempts.length < 2; i++) {
      attempts = ((await (await api(`/webhooks/${hook.id}/attempts`)).json()) as { data: typeof attempts }).data;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(attempts).toMatchObject([
      { attempt: 2, status: 204, outcome: 'delivered', message_id: deliveries[0]?.id, file_id: file.id, error: null },
      { attempt: 1, status: 500, outcome: 'retrying', message_id: deliveries[0]?.id, file_id: file.id },
    ]);
    expect(attempts[1]?.error).toMatch(/answered 500/);
  });
});
