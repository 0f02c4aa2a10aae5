import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { api, errorOf, type FileJson, newToken, tusMetadata, uploadFile } from '../helpers';

/**
 * User input never becomes a key on a normal prototype: every form of `__proto__`, `constructor`
 * and `prototype` is refused with a 400, whichever route and encoding carries it, and nothing
 * reaches Object.prototype (the tests share the Worker's isolate, so they would see it).
 */
const json = { 'content-type': 'application/json' };
const prototypeNames = Object.getOwnPropertyNames(Object.prototype).sort();
let readToken: string;
let uploadToken: string;
let file: FileJson;

beforeAll(async () => {
  readToken = (await newToken('read')).token;
  uploadToken = (await newToken('upload')).token;
  file = await uploadFile({ name: 'victim.txt', data: 'the original bytes' }, { title: 'Victim' });
});

afterEach(async () => {
  // Nothing leaked into the isolate: the prototype is as it was, and unrelated answers are clean.
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeNames);
  const probe = {} as Record<string, unknown>;
  for (const key of ['x-polluted', 'polluted', 'location', 'width', 'admin', 'scope']) expect(probe[key], key).toBeUndefined();
  const anonymous = await api(`/files/${crypto.randomUUID()}`, { token: null });
  expect(anonymous.status).toBe(401);
  expect([...anonymous.headers.keys()].filter((h) => h.includes('polluted'))).toEqual([]);
  await anonymous.arrayBuffer();
  const edit = await api(`/files/${file.id}`, { method: 'PATCH', headers: json, body: JSON.stringify({ description: 'still works' }) });
  expect(edit.status, await edit.clone().text()).toBe(200);
  const record = ((await edit.json()) as { data: FileJson }).data;
  expect(record).toMatchObject({ title: 'Victim', filesize: file.filesize, checksum: file.checksum, access: file.access });
});

describe('query strings (GET /files with a read token)', () => {
  const forms = [
    'filter[__proto__][x-polluted]=1',
    'filter[constructor][prototype][location]=x',
    'filter[prototype][x]=1',
    'filter[title][__proto__]=x',
    'filter[title][constructor]=x',
    'filter[_or][0][__proto__][polluted]=1',
    'filter[_and][0][title][_eq][__proto__]=1',
    `filter=${encodeURIComponent('{"__proto__":{"polluted":1}}')}`,
    `filter=${encodeURIComponent('{"title":{"constructor":{"prototype":{"polluted":1}}}}')}`,
    `filter=${encodeURIComponent('{"_or":[{"prototype":{"_eq":1}}]}')}`,
  ];
  for (const query of forms) {
    it(`refuses ${decodeURIComponent(query)}`, async () => {
      const error = await errorOf(await api(`/files?${query}`, { token: readToken }));
      expect(error).toMatchObject({ status: 400, code: 'INVALID_QUERY' });
      expect(error.message).toMatch(/"(__proto__|constructor|prototype)" cannot be used as a key in filter/);
    });
  }
});

describe('JSON bodies', () => {
  const cases: [string, string, () => string, string][] = [
    ['PATCH', 'a file', () => `/files/${file.id}`, '{"__proto__":{"polluted":1}}'],
    ['PATCH', 'file metadata', () => `/files/${file.id}`, '{"metadata":{"constructor":{"prototype":{"polluted":1}}}}'],
    ['PATCH', 'nested metadata', () => `/files/${file.id}`, '{"metadata":{"a":[{"b":{"__proto__":{"polluted":1}}}]}}'],
    ['PATCH', 'settings', () => '/settings', '{"storage_asset_presets":[{"key":"a","__proto__":{"width":1}}]}'],
    ['POST', 'a token', () => '/tokens', '{"name":"x","scope":"read","__proto__":{"scope":"admin"}}'],
    ['POST', 'an import', () => '/files/import', '{"url":"https://example.com/a.png","data":{"__proto__":{"polluted":1}}}'],
    ['DELETE', 'a delete list', () => '/files', '{"keys":["x"],"constructor":{"prototype":{"polluted":1}}}'],
  ];
  for (const [method, what, path, body] of cases) {
    it(`refuses __proto__/constructor/prototype in ${what} (${method})`, async () => {
      const error = await errorOf(await api(path(), { method, headers: json, body }));
      expect(error).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
      expect(error.message).toMatch(/cannot be used as a key/);
    });
  }

  it('a JSON body past 1 MiB is a 413, not held', async () => {
    const body = JSON.stringify({ description: 'x'.repeat(1024 * 1024) });
    expect(await errorOf(await api(`/files/${file.id}`, { method: 'PATCH', headers: json, body }))).toMatchObject({ status: 413, code: 'CONTENT_TOO_LARGE' });
  });
});

describe('multipart form fields (POST /files with an upload token)', () => {
  const cases: [string, string][] = [
    ['__proto__', '{"polluted":1}'],
    ['constructor', 'x'],
    ['prototype', 'x'],
    ['metadata', '{"__proto__":{"polluted":1}}'],
    ['metadata', '{"constructor":{"prototype":{"polluted":1}}}'],
    ['tags', '[{"__proto__":"x"}]'],
  ];
  for (const [name, value] of cases) {
    it(`refuses a field ${name}=${value}, storing nothing`, async () => {
      const body = new FormData();
      body.append('title', `pollution-${name}`);
      body.append(name, value);
      body.append('file', new File(['x'], 'x.txt', { type: 'text/plain' }));
      const error = await errorOf(await api('/files', { method: 'POST', body, token: uploadToken }));
      expect(error).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
      const listed = (await (await api(`/files?filter[title][_eq]=pollution-${name}`)).json()) as { data: unknown[] };
      expect(listed.data).toEqual([]);
    });
  }
});

describe('TUS Upload-Metadata (upload token)', () => {
  for (const key of ['__proto__', 'constructor', 'prototype']) {
    it(`refuses the key ${key}`, async () => {
      const res = await api('/files/tus', {
        method: 'POST',
        token: uploadToken,
        headers: { 'tus-resumable': '1.0.0', 'upload-length': '1', 'upload-metadata': `filename ${btoa('a.txt')},${key} ${btoa('{"polluted":1}')}` },
      });
      expect(await errorOf(res)).toMatchObject({ status: 400, message: `"${key}" cannot be an Upload-Metadata key.` });
    });
  }

  it('keys named like other prototype members are ordinary, unknown keys', async () => {
    const res = await api('/files/tus', {
      method: 'POST',
      token: uploadToken,
      headers: { 'tus-resumable': '1.0.0', 'upload-length': '1', 'upload-metadata': tusMetadata({ filename: 'a.txt', toString: 'x', hasOwnProperty: 'y' }) },
    });
    expect(res.status, await res.clone().text()).toBe(201);
  });
});
