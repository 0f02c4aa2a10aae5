import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { stubImportSources } from '../files/import-sources';
import { api, bytes, errorOf, newToken, s3 } from '../helpers';

/**
 * An import that will be refused sends no request out: the storage location, the folder, the data
 * fields and the URL are all judged before the source is fetched. Every request is recorded; the
 * source is a stub (no network in tests), storage traffic goes through to the test's S3 server.
 */
let fetched: string[] = [];

beforeEach(() => {
  fetched = stubImportSources('files.example.com', () => new Response(bytes(2048, 7), { headers: { 'content-type': 'application/octet-stream' } }));
});
afterEach(() => vi.restoreAllMocks());

function importUrl(body: unknown, token?: string) {
  return api('/files/import', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...(token ? { token } : {}) });
}

const source = 'https://files.example.com/data.bin';

describe('a refused import fetches nothing', () => {
  const refused: [string, unknown][] = [
    ['an unknown storage location', { url: source, data: { storage: 'nowhere' } }],
    ['a storage location in the wrong case', { url: source, data: { storage: 'LOCAL' } }],
    ['an inherited property as storage', { url: source, data: { storage: 'constructor' } }],
    ['__proto__ as storage', { url: source, data: { storage: '__proto__' } }],
    ['an empty storage', { url: source, data: { storage: '' } }],
    ['a storage that is not a string', { url: source, data: { storage: 7 } }],
    ['a folder that is not an id', { url: source, data: { folder: 'holiday' } }],
    ['a folder that does not exist', { url: source, data: { folder: crypto.randomUUID() } }],
    ['a title that is not a string', { url: source, data: { title: 42 } }],
    ['an unknown field', { url: source, data: { owner: 'me' } }],
    ['an unknown access', { url: source, data: { access: 'everyone' } }],
    ['data that is an array', { url: source, data: [] }],
    ['an unknown storage with a refused address', { url: 'http://[::127.0.0.1]/x', data: { storage: 'nowhere' } }],
  ];
  for (const [what, body] of refused) {
    it(`${what}: 400 and no request out`, async () => {
      const error = await errorOf(await importUrl(body));
      expect(error).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
      expect(fetched).toEqual([]);
    });
  }

  it('an unknown storage from an upload token: 400, naming the configured locations, no request out', async () => {
    const { token } = await newToken('upload');
    const error = await errorOf(await importUrl({ url: source, data: { storage: 'elsewhere' } }, token));
    expect(error).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD', message: expect.stringMatching(/Unknown storage location "elsewhere"; configured: local/) });
    expect(fetched).toEqual([]);
  });

  it('the same request with a known storage fetches the source once', async () => {
    const res = await importUrl({ url: source, data: { storage: 'local' } });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(fetched.filter((u) => !u.startsWith(s3.endpoint))).toEqual([source]);
  });
});
