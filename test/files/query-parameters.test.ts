import { aggregate, createDirectus, rest, staticToken } from '@directus/sdk';
import { exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, api, errorOf, uploadFile } from '../helpers';

/**
 * A query parameter Directus defines is carried out or refused, never ignored: an aggregate answered
 * with the plain list would look like data.
 */
let fileId: string;
beforeAll(async () => {
  fileId = (await uploadFile({ name: 'params.txt', data: 'x' })).id;
});

describe('Directus query parameters this API does not carry out', () => {
  const forms: [string, string][] = [
    ['aggregate[count]=*', 'aggregate'],
    ['aggregate[sum]=filesize', 'aggregate'],
    ['aggregate=%7B%22count%22%3A%22*%22%7D', 'aggregate'],
    ['groupBy[]=type', 'groupBy'],
    ['groupBy=type,folder', 'groupBy'],
    ['deep[folder][_limit]=1', 'deep'],
    ['alias[name]=title', 'alias'],
    ['export=csv', 'export'],
    ['version=draft', 'version'],
    ['backlink=false', 'backlink'],
  ];
  for (const path of ['/files', `/files/__ID__`, '/folders']) {
    for (const [query, name] of forms) {
      it(`${path}?${query} → 400 naming "${name}"`, async () => {
        const res = await api(`${path.replace('__ID__', () => fileId)}?${query}`);
        const error = await errorOf(res);
        expect(error.status).toBe(400);
        expect(error.code).toBe('INVALID_QUERY');
        expect(error.message).toContain(`"${name}"`);
      });
    }
  }

  it("refuses @directus/sdk's aggregate() instead of answering the plain list", async () => {
    const fetchWorker = (input: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(new Request(input, init));
    const client = createDirectus('http://assets.test', { globals: { fetch: fetchWorker as typeof fetch } }).with(staticToken(ADMIN_TOKEN)).with(rest());
    await expect(client.request(aggregate('directus_files', { aggregate: { count: '*' }, groupBy: ['type'] }))).rejects.toMatchObject({
      errors: [{ extensions: { code: 'INVALID_QUERY' } }],
    });
  });

  it('leaves parameters Directus does not define alone (a cache buster still works)', async () => {
    expect((await api(`/files/${fileId}?_=1712345678`)).status).toBe(200);
    expect((await api('/files?limit=1&cb=1')).status).toBe(200);
  });
});
