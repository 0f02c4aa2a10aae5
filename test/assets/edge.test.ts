import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { app } from '../../src/app';
import { ADMIN_TOKEN, api, bytes, errorOf, type FileJson, fixture, form, sha256, testClient, uploadFile } from '../helpers';

const client = testClient();
const anon = (path: string, headers: Record<string, string> = {}) => api(path, { token: null, headers });

/** Until the edge copy (filled after the answer) is there: a hit. */
async function untilHit(path: string, headers: Record<string, string> = {}, request = anon): Promise<Response> {
  for (let i = 0; i < 40; i++) {
    const res = await request(path, headers);
    if (res.headers.get('x-cache') === 'HIT-EDGE') return res;
    await res.arrayBuffer();
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${path} never came from the edge cache`);
}

/** Removes a file's record and bytes behind the Worker's back: only the edge cache can answer now. */
async function pullOut(file: FileJson): Promise<void> {
  await env.DB.prepare('DELETE FROM files WHERE id = ?').bind(file.id).run();
  await client.deleteObject(file.filename_disk);
}

async function photo(fields: Record<string, string> = {}): Promise<FileJson> {
  return uploadFile({ name: 'p.jpg', data: fixture('photo-meta.jpg'), type: 'image/jpeg' }, fields);
}

afterEach(() => vi.restoreAllMocks());

describe('a hit touches neither D1 nor storage', () => {
  it('a public original and a thumbnail are served with their record and bytes gone', async () => {
    const file = await photo();
    const original = await untilHit(`/assets/${file.id}`);
    const thumb = await untilHit(`/assets/${file.id}?width=20`);
    const thumbBytes = new Uint8Array(await thumb.arrayBuffer());
    await original.arrayBuffer();
    await pullOut(file);

    const again = await anon(`/assets/${file.id}`);
    expect(again.status).toBe(200);
    expect(again.headers.get('x-cache')).toBe('HIT-EDGE');
    expect(await sha256(new Uint8Array(await again.arrayBuffer()))).toBe(file.checksum);
    const thumbAgain = await anon(`/assets/${file.id}?width=20`);
    expect(thumbAgain.headers.get('x-cache')).toBe('HIT-EDGE');
    expect(new Uint8Array(await thumbAgain.arrayBuffer())).toEqual(thumbBytes);
  });

  it('Range, If-None-Match, If-Range and HEAD are answered from the cached original', async () => {
    const data = bytes(10_000, 77);
    const file = await uploadFile({ name: 'data.bin', data });
    const first = await untilHit(`/assets/${file.id}`);
    const etag = first.headers.get('etag') as string;
    await first.arrayBuffer();
    await pullOut(file);

    const part = await anon(`/assets/${file.id}`, { range: 'bytes=100-199' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 100-199/10000');
    expect(part.headers.get('content-length')).toBe('100');
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(data.subarray(100, 200));
    const suffix = await anon(`/assets/${file.id}`, { range: 'bytes=-10' });
    expect(new Uint8Array(await suffix.arrayBuffer())).toEqual(data.subarray(9990));
    const outside = await anon(`/assets/${file.id}`, { range: 'bytes=20000-' });
    expect(outside.status).toBe(416);
    expect(outside.headers.get('content-range')).toBe('bytes */10000');
    const stale = await anon(`/assets/${file.id}`, { range: 'bytes=0-9', 'if-range': '"other"' });
    expect(stale.status).toBe(200);
    expect((await stale.arrayBuffer()).byteLength).toBe(10_000);
    expect((await anon(`/assets/${file.id}`, { 'if-none-match': etag })).status).toBe(304);
    const head = await api(`/assets/${file.id}`, { method: 'HEAD', token: null });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('10000');
    expect(head.headers.get('content-disposition')).toContain('data.bin');
    expect(await head.text()).toBe('');
  });

  it('originals over ASSETS_EDGE_CACHE_MAX_SIZE are not kept', async () => {
    const vars = { ...env, ASSETS_EDGE_CACHE_MAX_SIZE: '1000' };
    const file = await uploadFile({ name: 'big.bin', data: bytes(5000, 3) });
    for (let i = 0; i < 3; i++) {
      const res = await app.request(`/assets/${file.id}`, {}, vars);
      expect(res.headers.get('x-cache')).toBe('MISS');
      await res.arrayBuffer();
    }
  });
});

describe('a change stops the old answer at once in this location', () => {
  it('replacing the bytes', async () => {
    const file = await uploadFile({ name: 'r.txt', data: 'version one', type: 'text/plain' });
    await (await untilHit(`/assets/${file.id}`)).arrayBuffer();
    const res = await api(`/files/${file.id}`, { method: 'PATCH', body: form([{ name: 'r.txt', data: 'version two', type: 'text/plain' }]) });
    expect(res.status).toBe(200);
    expect(await (await anon(`/assets/${file.id}`)).text()).toBe('version two');
  });

  it('deleting the file', async () => {
    const file = await photo();
    await (await untilHit(`/assets/${file.id}?width=10`)).arrayBuffer();
    expect((await api(`/files/${file.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await anon(`/assets/${file.id}?width=10`)).status).toBe(404);
  });

  it('making it private', async () => {
    const file = await photo();
    await (await untilHit(`/assets/${file.id}`)).arrayBuffer();
    await api(`/files/${file.id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ access: 'private' }) });
    expect(await errorOf(await anon(`/assets/${file.id}`))).toMatchObject({ status: 401, code: 'INVALID_CREDENTIALS' });
  });

  it('rotating the private hash', async () => {
    const file = await photo({ access: 'private' });
    await (await untilHit(`/assets/${file.private_hash}?width=12`)).arrayBuffer();
    expect((await api(`/files/${file.id}/rotate-hash`, { method: 'POST' })).status).toBe(200);
    expect((await anon(`/assets/${file.private_hash}?width=12`)).status).toBe(404);
  });

  it('replacing it through TUS', async () => {
    const file = await uploadFile({ name: 't.txt', data: 'old bytes', type: 'text/plain' });
    await (await untilHit(`/assets/${file.id}`)).arrayBuffer();
    const meta = `filename ${btoa('t.txt')},id ${btoa(file.id)}`;
    const created = await api('/files/tus', { method: 'POST', headers: { 'tus-resumable': '1.0.0', 'upload-length': '9', 'upload-metadata': meta, 'content-type': 'application/offset+octet-stream' }, body: 'new bytes' });
    expect(created.status).toBe(201);
    expect(await (await anon(`/assets/${file.id}`)).text()).toBe('new bytes');
  });
});

describe('everywhere else: entries are checked against their record past ASSETS_EDGE_REVALIDATE', () => {
  // Another location never saw the tombstone: what it holds is changed behind this one's back.
  const vars = { ...env, ASSETS_EDGE_REVALIDATE: '1' };
  const get = async (path: string) => app.request(path, {}, vars);
  const wait = () => new Promise((r) => setTimeout(r, 1100));

  it('kept while the record is unchanged, dropped when it changed', async () => {
    const file = await uploadFile({ name: 'old-name.txt', data: 'same bytes', type: 'text/plain' });
    await (await untilHit(`/assets/${file.id}`, {}, get)).arrayBuffer();
    await wait();
    const checked = await get(`/assets/${file.id}`);
    expect(checked.headers.get('x-cache')).toBe('HIT-EDGE');
    await checked.arrayBuffer();

    await env.DB.prepare('UPDATE files SET filename_download = ? WHERE id = ?').bind('new-name.txt', file.id).run();
    const within = await get(`/assets/${file.id}`);
    expect(within.headers.get('content-disposition')).toContain('old-name.txt');
    await within.arrayBuffer();
    await wait();
    const after = await get(`/assets/${file.id}`);
    expect(after.headers.get('x-cache')).toBe('MISS');
    expect(after.headers.get('content-disposition')).toContain('new-name.txt');
    await after.arrayBuffer();
  });

  it('a record gone behind its back: 404 once the entry is due', async () => {
    const file = await photo();
    await (await untilHit(`/assets/${file.id}?width=9`, {}, get)).arrayBuffer();
    await env.DB.prepare('DELETE FROM files WHERE id = ?').bind(file.id).run();
    await wait();
    expect((await get(`/assets/${file.id}?width=9`)).status).toBe(404);
  });
});

describe('who may be answered from the cache', () => {
  it('a private file is never found by an anonymous request; a signed URL finds it', async () => {
    const file = await photo({ access: 'private' });
    const admin = (path: string, headers: Record<string, string> = {}) => api(path, { headers });
    await (await untilHit(`/assets/${file.id}?width=15`, {}, admin)).arrayBuffer();
    const signed = ((await (await api(`/files/${file.id}/sign?width=15`)).json()) as { data: { url: string } }).data.url;
    await pullOut(file);
    // The record is gone: only the cache could answer, and it does not answer an anonymous request.
    expect((await anon(`/assets/${file.id}?width=15`)).status).toBe(404);
    const viaSignature = await anon(new URL(signed).pathname + new URL(signed).search);
    expect(viaSignature.status).toBe(200);
    expect(viaSignature.headers.get('x-cache')).toBe('HIT-EDGE');
    expect(viaSignature.headers.get('cache-control')).toMatch(/^private, max-age=\d+$/);
  });

  it('an ad-hoc variant cached under `all` is not served after a switch to `presets`', async () => {
    const file = await photo();
    await (await untilHit(`/assets/${file.id}?width=14`)).arrayBuffer();
    const json = { 'content-type': 'application/json' };
    await api('/settings', { method: 'PATCH', headers: json, body: JSON.stringify({ storage_asset_transform: 'presets' }) });
    try {
      expect(await errorOf(await anon(`/assets/${file.id}?width=14`))).toMatchObject({ status: 403, code: 'ILLEGAL_ASSET_TRANSFORMATION' });
    } finally {
      await api('/settings', { method: 'PATCH', headers: json, body: JSON.stringify({ storage_asset_transform: 'all' }) });
    }
  });

  it('ASSETS_SIGNED_TRANSFORMS holds on a hit', async () => {
    const file = await photo();
    await (await untilHit(`/assets/${file.id}?width=13`)).arrayBuffer();
    const res = await app.request(`/assets/${file.id}?width=13`, {}, { ...env, ASSETS_SIGNED_TRANSFORMS: 'true' });
    expect(await errorOf(res)).toMatchObject({ status: 403, code: 'INVALID_SIGNATURE' });
  });
});

describe('the purge API', () => {
  it('with a zone and a token, a change purges the file by Cache-Tag everywhere', async () => {
    const vars = { ...env, CLOUDFLARE_ZONE_ID: '0123456789abcdef0123456789abcdef', CLOUDFLARE_API_TOKEN: 'purge-token-0123456789abcdef' };
    const file = await photo();
    const real = globalThis.fetch;
    const purges: { url: string; auth: string | null; body: unknown }[] = [];
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const request = new Request(input as RequestInfo, init);
      if (request.url.startsWith('https://api.cloudflare.com/')) {
        purges.push({ url: request.url, auth: request.headers.get('authorization'), body: await request.json() });
        return Response.json({ success: true });
      }
      return real(request);
    });
    const res = await app.request(`/files/${file.id}`, { method: 'PATCH', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ title: 'x' }) }, vars);
    expect(res.status).toBe(200);
    await vi.waitFor(() => expect(purges).toHaveLength(1));
    expect(purges[0]).toEqual({
      url: 'https://api.cloudflare.com/client/v4/zones/0123456789abcdef0123456789abcdef/purge_cache',
      auth: 'Bearer purge-token-0123456789abcdef',
      body: { tags: [`ea-file-${file.id}`] },
    });
  });
});
