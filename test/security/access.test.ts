import { env } from 'cloudflare:test';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { app } from '../../src/app';
import { ADMIN_TOKEN, api, errorOf, type FileJson, fixture, newToken, uploadFile } from '../helpers';

const json = { 'content-type': 'application/json' };

type Who = 'none' | 'wrong' | 'expired' | 'revoked' | 'read' | 'upload' | 'admin';
const tokens: Partial<Record<Who, string | null>> = { none: null, wrong: 'ea_not-a-real-token', admin: ADMIN_TOKEN };
let privateFile: FileJson;
let publicFile: FileJson;

beforeAll(async () => {
  for (const scope of ['read', 'upload'] as const) tokens[scope] = (await newToken(scope)).token;
  tokens.expired = (await newToken('admin', { expires_on: new Date(Date.now() - 60_000).toISOString() })).token;
  const revoked = await newToken('admin');
  expect((await api(`/tokens/${revoked.id}`, { method: 'DELETE' })).status).toBe(204);
  tokens.revoked = revoked.token;
  privateFile = await uploadFile({ name: 'secret.png', data: fixture('alpha.png') }, { access: 'private' });
  publicFile = await uploadFile({ name: 'open.png', data: fixture('alpha.png') });
});

describe('tokens and scopes on every route', () => {
  // [method, path, body, the weakest scope that may do it]
  const routes: [string, () => string, (() => BodyInit | undefined) | undefined, 'read' | 'upload' | 'admin'][] = [
    ['GET', () => '/files', undefined, 'read'],
    ['GET', () => `/files/${publicFile.id}`, undefined, 'read'],
    ['GET', () => `/files/${publicFile.id}/sign`, undefined, 'admin'],
    ['GET', () => '/settings', undefined, 'read'],
    ['POST', () => '/files/import', () => JSON.stringify({ url: 'http://127.0.0.1/x' }), 'upload'],
    ['POST', () => '/files/tus', undefined, 'upload'],
    ['PATCH', () => `/files/${publicFile.id}`, () => JSON.stringify({ title: 'T' }), 'admin'],
    ['POST', () => `/files/${crypto.randomUUID()}/rotate-hash`, undefined, 'admin'],
    ['DELETE', () => `/files/${crypto.randomUUID()}`, undefined, 'admin'],
    ['PATCH', () => '/settings', () => JSON.stringify({}), 'admin'],
    ['GET', () => '/tokens/me', undefined, 'read'],
    ['GET', () => '/tokens', undefined, 'admin'],
    ['POST', () => '/tokens', () => JSON.stringify({}), 'admin'],
  ];
  const rank = { read: 1, upload: 2, admin: 3 };
  for (const [method, path, body, needed] of routes) {
    it(`${method} ${path.toString().replace(/^\(\) => /, '')} needs ${needed}`, async () => {
      for (const who of ['none', 'wrong', 'expired', 'revoked', 'read', 'upload', 'admin'] as Who[]) {
        const res = await api(path(), { method, token: tokens[who] ?? null, headers: { ...json, 'tus-resumable': '1.0.0', 'upload-length': '1' }, ...(body ? { body: body() } : {}) });
        const status = res.status;
        await res.arrayBuffer();
        if (who === 'none' || who === 'wrong' || who === 'revoked') expect(status, who).toBe(401);
        else if (who === 'expired') expect(status, who).toBe(401);
        else if (rank[who] < rank[needed]) expect(status, who).toBe(403);
        else expect([401, 403], `${who} should pass auth`).not.toContain(status);
      }
    });
  }

  it('GET /tokens/me answers a token with its own name, scope and expiry, never its value', async () => {
    const expiring = await newToken('upload', { expires_on: '2099-01-01T00:00:00.000Z' });
    const me = await api('/tokens/me', { token: expiring.token });
    const text = await me.text();
    expect(JSON.parse(text)).toEqual({ data: { name: expiring.name, scope: 'upload', expires_on: '2099-01-01T00:00:00.000Z' } });
    expect(text).not.toContain(expiring.token);
    expect(await (await api('/tokens/me')).json()).toEqual({ data: { name: 'admin', scope: 'admin', expires_on: null } });
    // It is not a way around the admin check for the rest of /tokens.
    expect((await api('/tokens', { token: expiring.token })).status).toBe(403);
  });

  it('an expired token says so; a revoked one does not exist any more', async () => {
    expect(await errorOf(await api('/files', { token: tokens.expired ?? null }))).toMatchObject({ status: 401, code: 'TOKEN_EXPIRED' });
    expect(await errorOf(await api('/files', { token: tokens.revoked ?? null }))).toMatchObject({ status: 401, code: 'INVALID_CREDENTIALS' });
  });

  it('uploaded_by records the token name; the token value is shown once and stored hashed', async () => {
    const uploader = await newToken('upload');
    const body = new FormData();
    body.append('file', new File(['x'], 'by.txt'));
    const res = await api('/files', { method: 'POST', body, token: uploader.token });
    expect(((await res.json()) as { data: { uploaded_by: string } }).data.uploaded_by).toBe(uploader.name);
    const listed = await (await api('/tokens')).text();
    expect(listed).toContain(uploader.name);
    expect(listed).not.toContain(uploader.token);
    const stored = await env.DB.prepare('SELECT token_hash FROM tokens WHERE name = ?').bind(uploader.name).first<{ token_hash: string }>();
    expect(stored?.token_hash).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('private files', () => {
  it('are not served by id without a token; a read token, the private hash or a signature serves them', async () => {
    expect(privateFile).toMatchObject({ access: 'private' });
    expect(privateFile.private_hash).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(await errorOf(await api(`/assets/${privateFile.id}`, { token: null }))).toMatchObject({ status: 401 });
    expect(await errorOf(await api(`/assets/${privateFile.id}?width=10`, { token: null }))).toMatchObject({ status: 401 });
    const read = await api(`/assets/${privateFile.id}`, { token: tokens.read ?? null });
    expect(read.status).toBe(200);
    expect(read.headers.get('cache-control')).toMatch(/^private/);
    expect((await api(`/assets/${privateFile.private_hash}`, { token: null })).status).toBe(200);
    expect((await api(`/assets/${privateFile.private_hash}?width=10&format=png`, { token: null })).status).toBe(200);
    expect((await api(`/assets/${publicFile.id}`, { token: null })).status).toBe(200);
  });

  it('rotating the hash kills the old URL at once, thumbnails included', async () => {
    const file = await uploadFile({ name: 'r.png', data: fixture('alpha.png') }, { access: 'private' });
    const old = file.private_hash as string;
    expect((await api(`/assets/${old}?width=12&format=png`, { token: null })).status).toBe(200);
    const res = await api(`/files/${file.id}/rotate-hash`, { method: 'POST' });
    const rotated = ((await res.json()) as { data: FileJson }).data;
    expect(rotated.private_hash).not.toBe(old);
    expect((await api(`/assets/${old}`, { token: null })).status).toBe(404);
    expect((await api(`/assets/${old}?width=12&format=png`, { token: null })).status).toBe(404);
    expect((await api(`/assets/${rotated.private_hash}?width=12&format=png`, { token: null })).status).toBe(200);
  });

  it('FILES_DEFAULT_ACCESS sets the access of new files', async () => {
    const res = await app.request('/files', { method: 'POST', body: (() => { const f = new FormData(); f.append('file', new File(['x'], 'd.txt')); return f; })(), headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }, { ...env, FILES_DEFAULT_ACCESS: 'private' });
    expect(((await res.json()) as { data: FileJson }).data.access).toBe('private');
  });
});

describe('signed URLs', () => {
  async function sign(id: string, query: string): Promise<URL> {
    const res = await api(`/files/${id}/sign?${query}`);
    expect(res.status, await res.clone().text()).toBe(200);
    return new URL(((await res.json()) as { data: { url: string } }).data.url);
  }
  const fetchSigned = (url: URL) => api(`${url.pathname}${url.search}`, { token: null });

  it('serve a private file and its thumbnail until they expire', async () => {
    const url = await sign(privateFile.id, 'expires_in=60&width=8&format=png');
    expect(url.searchParams.get('signature')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const res = await fetchSigned(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toMatch(/^private, max-age=(5\d|60)$/);
    expect(res.headers.get('content-type')).toBe('image/png');
  });

  it('every tampered part is refused with 403', async () => {
    const url = await sign(privateFile.id, 'expires_in=60&width=8&format=png');
    const variants: ((u: URL) => void)[] = [
      (u) => (u.pathname = `/assets/${publicFile.id}`),
      (u) => u.searchParams.set('width', '9'),
      (u) => u.searchParams.set('format', 'jpg'),
      (u) => u.searchParams.append('height', '5'),
      (u) => u.searchParams.delete('width'),
      (u) => u.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 1000)),
      // The first character carries six bits of the MAC, so another one is always another signature
      // (the last two could already be "AA", or differ only in padding bits: a 1-in-1024 pass).
      (u) => u.searchParams.set('signature', `${u.searchParams.get('signature')?.startsWith('A') ? 'B' : 'A'}${u.searchParams.get('signature')?.slice(1)}`),
      (u) => u.searchParams.set('signature', 'not base64 !'),
    ];
    for (const [i, tamper] of variants.entries()) {
      const u = new URL(url);
      tamper(u);
      expect(await errorOf(await fetchSigned(u)), `variant ${i}`).toMatchObject({ status: 403, code: 'INVALID_SIGNATURE' });
    }
  });

  it('an expired signature is a 410', async () => {
    const url = await sign(privateFile.id, 'expires_in=1');
    await new Promise((r) => setTimeout(r, 2100));
    expect(await errorOf(await fetchSigned(url))).toMatchObject({ status: 410, code: 'SIGNATURE_EXPIRED' });
  });

  it('keys rotate without downtime: the first signs, all verify', async () => {
    const url = await sign(publicFile.id, 'expires_in=60&width=8');
    const rotatedEnv = { ...env, ASSETS_SIGNING_KEY: 'test-signing-key-new-0123456789abcdefgh,test-signing-key-one-0123456789abcdef' };
    expect((await app.request(`${url.pathname}${url.search}`, {}, rotatedEnv)).status).toBe(200);
    const gone = { ...env, ASSETS_SIGNING_KEY: 'test-signing-key-new-0123456789abcdefgh' };
    expect((await app.request(`${url.pathname}${url.search}`, {}, gone)).status).toBe(403);
  });

  it('ASSETS_SIGNED_TRANSFORMS: ad-hoc transforms of public files need a signature; presets do not', async () => {
    const vars = { ...env, ASSETS_SIGNED_TRANSFORMS: 'true' };
    await api('/settings', { method: 'PATCH', headers: json, body: JSON.stringify({ storage_asset_presets: [{ key: 'tiny', width: 4, height: 4, format: 'png' }] }) });
    expect(await errorOf(await app.request(`/assets/${publicFile.id}?width=10`, {}, vars))).toMatchObject({ status: 403, code: 'INVALID_SIGNATURE' });
    expect((await app.request(`/assets/${publicFile.id}?key=tiny`, {}, vars)).status).toBe(200);
    expect((await app.request(`/assets/${publicFile.id}`, {}, vars)).status).toBe(200);
    const url = await sign(publicFile.id, 'width=10');
    expect((await app.request(`${url.pathname}${url.search}`, {}, vars)).status).toBe(200);
    await api('/settings', { method: 'PATCH', headers: json, body: JSON.stringify({ storage_asset_presets: [] }) });
  });
});

describe('secrets are compared in constant time', () => {
  afterEach(() => vi.restoreAllMocks());

  it('the admin token through timingSafeEqual, signatures through crypto.subtle.verify', async () => {
    const equal = vi.spyOn(crypto.subtle, 'timingSafeEqual');
    await api('/files?limit=1');
    expect(equal).toHaveBeenCalled();
    const verify = vi.spyOn(crypto.subtle, 'verify');
    const res = await api(`/files/${publicFile.id}/sign?width=5`);
    const url = new URL(((await res.json()) as { data: { url: string } }).data.url);
    await api(`${url.pathname}${url.search}`, { token: null });
    expect(verify).toHaveBeenCalled();
  });
});

describe('TUS uploads belong to the token that created them', () => {
  it('another token cannot see, continue or end it', async () => {
    const a = await newToken('upload');
    const b = await newToken('upload');
    const tus = { 'tus-resumable': '1.0.0' };
    const created = await api('/files/tus', { method: 'POST', token: a.token, headers: { ...tus, 'upload-length': '5' } });
    const path = new URL(created.headers.get('location') ?? '').pathname;
    expect((await api(path, { method: 'HEAD', token: b.token, headers: tus })).status).toBe(404);
    const patch = { ...tus, 'content-type': 'application/offset+octet-stream', 'upload-offset': '0' };
    expect((await api(path, { method: 'PATCH', token: b.token, headers: patch, body: 'hello' })).status).toBe(404);
    expect((await api(path, { method: 'DELETE', token: b.token, headers: tus })).status).toBe(404);
    const done = await api(path, { method: 'PATCH', token: a.token, headers: patch, body: 'hello' });
    expect(done.status).toBe(204);
    const file = ((await (await api(`/files/${done.headers.get('directus-file-id')}`)).json()) as { data: FileJson }).data;
    expect(file.uploaded_by).toBe(a.name);
  });
});
