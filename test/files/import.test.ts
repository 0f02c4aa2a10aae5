import { env } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { app } from '../../src/app';
import { ADMIN_TOKEN, api, bytes, errorOf, type FileJson, sha256 } from '../helpers';
import { stubImportSources } from './import-sources';

const payload = bytes(50_000, 31);
let fetched: string[] = [];

beforeEach(() => {
  const real = globalThis.fetch;
  fetched = stubImportSources('files.example.com', (url, request) => {
    // Loopback stands in for a host that is down (nothing listens) or that never answers.
    if (url.pathname === '/refused') return real(new Request(`http://127.0.0.1:${inject('oembedStandIn').closedPort}/`, request));
    if (url.pathname === '/silent') return real(new Request(`http://127.0.0.1:${env.TEST_SILENT_PORT}/`, request));
    if (url.pathname === '/photo.jpg') return new Response(payload, { headers: { 'content-type': 'image/jpeg' } });
    if (url.pathname === '/named') return new Response('named', { headers: { 'content-disposition': "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf", 'content-type': 'application/pdf' } });
    if (url.pathname === '/redirect-ok') return new Response(null, { status: 302, headers: { location: '/photo.jpg' } });
    if (url.pathname === '/redirect-local') return new Response(null, { status: 302, headers: { location: 'http://127.0.0.1:9/secret' } });
    if (url.pathname === '/redirect-metadata') return new Response(null, { status: 301, headers: { location: 'http://169.254.169.254/latest/meta-data/' } });
    if (url.pathname === '/missing') return new Response('nope', { status: 404 });
    if (url.pathname === '/huge') return new Response(bytes(21 * 1024 * 1024), { headers: { 'content-type': 'application/octet-stream' } });
    return new Response('?', { status: 500 });
  });
});
afterEach(() => vi.restoreAllMocks());

function importUrl(url: string, data?: Record<string, unknown>) {
  return api('/files/import', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url, ...(data ? { data } : {}) }) });
}

describe('POST /files/import', () => {
  it('streams an allowed URL into storage', async () => {
    const res = await importUrl('https://files.example.com/photo.jpg', { title: 'Imported' });
    expect(res.status, await res.clone().text()).toBe(200);
    const file = ((await res.json()) as { data: FileJson }).data;
    expect(file).toMatchObject({ title: 'Imported', filename_download: 'photo.jpg', type: 'image/jpeg', filesize: String(payload.byteLength) });
    const asset = await api(`/assets/${file.id}`);
    expect(await sha256(new Uint8Array(await asset.arrayBuffer()))).toBe(await sha256(payload));
  });

  it('takes the name from Content-Disposition and follows redirects that stay public', async () => {
    const named = ((await (await importUrl('https://files.example.com/named')).json()) as { data: FileJson }).data;
    expect(named.filename_download).toBe('résumé.pdf');
    const redirected = await importUrl('https://files.example.com/redirect-ok');
    expect(redirected.status).toBe(200);
    expect(fetched).toContain('https://files.example.com/photo.jpg');
  });

  it('refuses redirects into local or metadata addresses without fetching them', async () => {
    for (const path of ['/redirect-local', '/redirect-metadata']) {
      const error = await errorOf(await importUrl(`https://files.example.com${path}`));
      expect(error).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
      expect(error.message).toMatch(/not allowed/);
    }
    expect(fetched.some((u) => u.includes('127.0.0.1') || u.includes('169.254'))).toBe(false);
  });

  const refused = [
    'http://localhost/x',
    'http://LOCALHOST./x',
    'http://api.localhost/x',
    'http://printer.local/x',
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://intranet/x',
    'http://127.0.0.1/x',
    'http://127.1/x',
    'http://2130706433/x',
    'http://0x7f000001/x',
    'http://0177.0.0.1/x',
    'http://0x7f.0.0.1/x',
    'http://0.0.0.0/x',
    'http://10.0.0.1/x',
    'http://172.16.5.4/x',
    'http://192.168.1.1/x',
    'http://100.64.0.1/x',
    'http://169.254.169.254/latest/meta-data/',
    'http://2852039166/latest/meta-data/',
    'http://[::1]/x',
    'http://[::]/x',
    'http://[::ffff:127.0.0.1]/x',
    'http://[::ffff:a9fe:a9fe]/x',
    'http://[fe80::1]/x',
    'http://[fd00::1]/x',
    'http://[ff02::1]/x',
    'file:///etc/passwd',
    'ftp://files.example.com/x',
    'gopher://files.example.com/x',
    'not a url',
  ];
  for (const url of refused) {
    it(`refuses ${url}`, async () => {
      const error = await errorOf(await importUrl(url));
      expect(error).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
      expect(fetched).toEqual([]);
    });
  }

  it('refuses what IMPORT_IP_DENY_LIST adds: names, subdomains, addresses and ranges', async () => {
    const vars = { ...env, IMPORT_IP_DENY_LIST: 'files.example.com,8.8.8.0/24,1.1.1.1' };
    for (const url of ['https://files.example.com/photo.jpg', 'https://cdn.files.example.com/x', 'http://8.8.8.9/x', 'http://1.1.1.1/x']) {
      const res = await app.request('/files/import', { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ url }) }, vars);
      const error = await errorOf(res);
      expect(error, url).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
      expect(error.message).toMatch(/IMPORT_IP_DENY_LIST/);
    }
    expect(fetched).toEqual([]);
  });

  it('a non-2xx answer, an oversize body and a bad payload are clear errors', async () => {
    expect(await errorOf(await importUrl('https://files.example.com/missing'))).toMatchObject({ status: 400, message: expect.stringMatching(/answered 404/) });
    expect(await errorOf(await importUrl('https://files.example.com/huge'))).toMatchObject({ status: 413, code: 'CONTENT_TOO_LARGE' });
    const noUrl = await api('/files/import', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"data":{}}' });
    expect(await errorOf(noUrl)).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
  });

  it('a source that cannot be reached says so in words, with a stable code', async () => {
    expect(await errorOf(await importUrl('https://files.example.com/refused'))).toEqual({
      status: 502,
      code: 'SOURCE_UNAVAILABLE',
      message: 'Could not reach files.example.com: the connection was refused or cut (is a server listening on port 443?).',
    });
    const quick = { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ url: 'http://files.example.com:8080/silent' }) };
    expect(await errorOf(await app.request('/files/import', quick, { ...env, FILES_IMPORT_TIMEOUT: '300' }))).toEqual({
      status: 504,
      code: 'SOURCE_TIMEOUT',
      message: 'Could not reach files.example.com:8080: no answer within 300 ms (FILES_IMPORT_TIMEOUT).',
    });
  });
});
