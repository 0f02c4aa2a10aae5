import { aggregate } from '@directus/sdk';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, errorOf, uploadFile } from '../helpers';
import { sdk } from './sdk-client';

/**
 * A query parameter Directus defines is carried out or refused, never ignored: an aggregate answered
 * with the plain list would look like data.
 */
let fileId: string;
let folderId: string;
beforeAll(async () => {
  fileId = (await uploadFile({ name: 'params.txt', data: 'x' })).id;
  const res = await api('/folders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'params' }) });
  folderId = ((await res.json()) as { data: { id: string } }).data.id;
});

describe('Directus query parameters this API does not carry out', () => {
  const forms: [string, string][] = [
    ['deep[folder][_limit]=1', 'deep'],
    ['alias[name]=title', 'alias'],
    ['export=csv', 'export'],
    ['version=draft', 'version'],
    ['versionRaw=true', 'versionRaw'],
    ['backlink=false', 'backlink'],
    ['alias[x]=title&aggregate[count]=*', 'alias'],
  ];
  const paths = ['/files', '/files/__FILE__', '/folders', '/folders/__FOLDER__'];
  const at = (path: string) => path.replace('__FILE__', () => fileId).replace('__FOLDER__', () => folderId);
  for (const path of paths) {
    for (const [query, name] of forms) {
      it(`${path}?${query} → 400 naming "${name}"`, async () => {
        const error = await errorOf(await api(`${at(path)}?${query}`));
        expect(error.status).toBe(400);
        expect(error.code).toBe('INVALID_QUERY');
        expect(error.message).toContain(`"${name}"`);
      });
    }
  }

  // aggregate and groupBy are carried out on lists (test/files/aggregate.test.ts), never on one record.
  const listOnly: [string, string][] = [
    ['aggregate[count]=*', 'aggregate'],
    ['aggregate=%7B%22count%22%3A%22*%22%7D', 'aggregate'],
    ['groupBy[]=id', 'groupBy'],
    ['groupBy=id,name', 'groupBy'],
  ];
  for (const path of ['/files/__FILE__', '/folders/__FOLDER__']) {
    for (const [query, name] of listOnly) {
      it(`${path}?${query} → 400 naming "${name}"`, async () => {
        const error = await errorOf(await api(`${at(path)}?${query}`));
        expect(error).toMatchObject({ status: 400, code: 'INVALID_QUERY' });
        expect(error.message).toContain(`"${name}" applies to lists`);
      });
    }
  }

  it("answers @directus/sdk's aggregate() with the aggregate, never the plain list", async () => {
    const rows = await sdk().request(aggregate('directus_files', { aggregate: { count: '*' }, groupBy: ['type'] }));
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(Object.keys(row).sort()).toEqual(['count', 'type']);
    const res = await api('/files?aggregate[count]=*');
    expect(Object.keys(((await res.json()) as { data: Record<string, unknown>[] }).data[0] ?? {})).toEqual(['count']);
  });

  it('leaves parameters Directus does not define alone (a cache buster still works)', async () => {
    expect((await api(`/files/${fileId}?_=1712345678`)).status).toBe(200);
    expect((await api('/files?limit=1&cb=1')).status).toBe(200);
  });
});
