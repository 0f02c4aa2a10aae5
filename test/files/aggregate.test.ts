import { aggregate } from '@directus/sdk';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, bytes, errorOf, newToken, uploadFile } from '../helpers';
import { sdk } from './sdk-client';

/**
 * `aggregate` and `groupBy` on /files and /folders, shaped as Directus answers them (`[{count: 3}]`,
 * `[{count: {id: 3}}]`, `[{type, count}]`), with `filter`, `search`, `sort`, `limit` and `meta`.
 */
const tag = `agg-${crypto.randomUUID().slice(0, 8)}`;
const only = `filter[tags][_contains]=${tag}`;
let folderId: string;
let readToken: string;

async function data(query: string, path = '/files', token?: string): Promise<{ data: Record<string, unknown>[]; meta?: Record<string, number> }> {
  const res = await api(`${path}?${query}`, token ? { token } : {});
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as { data: Record<string, unknown>[]; meta?: Record<string, number> };
}

beforeAll(async () => {
  readToken = (await newToken('read')).token;
  const res = await api('/folders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: `Agg ${tag}` }) });
  folderId = ((await res.json()) as { data: { id: string } }).data.id;
  const tags = JSON.stringify([tag]);
  await uploadFile({ name: 'one.txt', data: 'abc', type: 'text/plain' }, { tags, title: 'One', folder: folderId });
  await uploadFile({ name: 'two.txt', data: 'abcde', type: 'text/plain' }, { tags, title: 'Two' });
  await uploadFile({ name: 'three.bin', data: bytes(10, 3), type: 'application/octet-stream' }, { tags, title: 'Three', folder: folderId });
});

describe('aggregate on /files', () => {
  it('count of * and of a field, in the bracket and the JSON form', async () => {
    expect(await data(`${only}&aggregate[count]=*`)).toEqual({ data: [{ count: 3 }] });
    expect(await data(`${only}&aggregate=${encodeURIComponent(JSON.stringify({ count: 'id' }))}`)).toEqual({ data: [{ count: { id: 3 } }] });
    expect(await data(`${only}&aggregate[count]=id,folder`)).toEqual({ data: [{ count: { id: 3, folder: 2 } }] });
    expect(await data(`${only}&aggregate[countDistinct]=type,folder`)).toEqual({ data: [{ countDistinct: { type: 2, folder: 1 } }] });
  });

  it('sum, avg, min, max and the Distinct forms on numeric fields; min/max on dates', async () => {
    const { data: rows } = await data(`${only}&aggregate[sum]=filesize&aggregate[avg]=filesize&aggregate[min]=filesize&aggregate[max]=filesize&aggregate[sumDistinct]=filesize&aggregate[avgDistinct]=filesize`);
    expect(rows).toEqual([{ sum: { filesize: 18 }, avg: { filesize: 6 }, min: { filesize: 3 }, max: { filesize: 10 }, sumDistinct: { filesize: 18 }, avgDistinct: { filesize: 6 } }]);
    const [dates] = (await data(`${only}&aggregate[min]=created_on&aggregate[max]=created_on`)).data;
    expect((dates as { min: { created_on: string } }).min.created_on <= (dates as { max: { created_on: string } }).max.created_on).toBe(true);
  });

  it('with search and a relational filter; meta counts the records', async () => {
    expect(await data(`${only}&search=three&aggregate[count]=*`)).toEqual({ data: [{ count: 1 }] });
    const res = await data(`${only}&filter[folder][name][_eq]=${encodeURIComponent(`Agg ${tag}`)}&aggregate[sum]=filesize&meta=filter_count`);
    expect(res).toEqual({ data: [{ sum: { filesize: 13 } }], meta: { filter_count: 2 } });
  });

  it('an empty selection: count 0, sum null', async () => {
    expect(await data(`filter[tags][_contains]=${tag}-none&aggregate[count]=*&aggregate[sum]=filesize`)).toEqual({ data: [{ count: 0, sum: { filesize: null } }] });
  });

  it('groupBy: one row a group, with the group fields as records hold them, sorted, paged', async () => {
    expect((await data(`${only}&groupBy[]=type&aggregate[count]=*`)).data).toEqual([
      { type: 'application/octet-stream', count: 1 },
      { type: 'text/plain', count: 2 },
    ]);
    expect((await data(`${only}&groupBy=type,folder&aggregate[sum]=filesize&sort=-type,folder`)).data).toEqual([
      { type: 'text/plain', folder: null, sum: { filesize: 5 } },
      { type: 'text/plain', folder: folderId, sum: { filesize: 3 } },
      { type: 'application/octet-stream', folder: folderId, sum: { filesize: 10 } },
    ]);
    expect(await data(`${only}&groupBy=type&aggregate[count]=id&sort=-type&limit=1&meta=filter_count`)).toEqual({
      data: [{ type: 'text/plain', count: { id: 2 } }],
      meta: { filter_count: 3 },
    });
    expect((await data(`${only}&groupBy=type&aggregate[count]=*&limit=1&offset=1`)).data).toEqual([{ type: 'text/plain', count: 2 }]);
    // filesize groups as the record writes it (a string, as Directus's directus_files does).
    expect((await data(`${only}&groupBy=filesize&filter[filesize][_lt]=4`)).data).toEqual([{ filesize: '3' }]);
  });

  it('a read token may aggregate, not over private_hash', async () => {
    expect((await data(`${only}&aggregate[count]=*`, '/files', readToken)).data).toEqual([{ count: 3 }]);
    const error = await errorOf(await api(`/files?aggregate[countDistinct]=private_hash`, { token: readToken }));
    expect(error).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    expect((await errorOf(await api(`/files?groupBy=private_hash`, { token: readToken }))).status).toBe(403);
  });
});

describe('aggregate on /folders', () => {
  it('count, countDistinct and groupBy parent', async () => {
    const parentRes = await api('/folders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: `Agg child ${tag}`, parent: folderId }) });
    expect(parentRes.status).toBe(200);
    const filter = `filter[name][_contains]=${tag}`;
    expect((await data(`${filter}&aggregate[count]=*`, '/folders')).data).toEqual([{ count: 2 }]);
    expect((await data(`${filter}&aggregate[countDistinct]=parent`, '/folders')).data).toEqual([{ countDistinct: { parent: 1 } }]);
    expect((await data(`${filter}&groupBy=parent&aggregate[count]=id&sort=parent`, '/folders')).data).toEqual([
      { parent: null, count: { id: 1 } },
      { parent: folderId, count: { id: 1 } },
    ]);
    expect((await data(`filter[parent][name][_eq]=${encodeURIComponent(`Agg ${tag}`)}&aggregate[count]=*`, '/folders')).data).toEqual([{ count: 1 }]);
  });
});

describe("@directus/sdk's aggregate()", () => {
  const client = sdk();
  it('without and with groupBy, on files and folders', async () => {
    const filter = { tags: { _contains: tag } };
    expect(await client.request(aggregate('directus_files', { aggregate: { count: '*' }, query: { filter } }))).toEqual([{ count: 3 }]);
    expect(await client.request(aggregate('directus_files', { aggregate: { sum: 'filesize', count: 'id' }, groupBy: ['type'], query: { filter, sort: ['type'] } }))).toEqual([
      { type: 'application/octet-stream', sum: { filesize: 10 }, count: { id: 1 } },
      { type: 'text/plain', sum: { filesize: 8 }, count: { id: 2 } },
    ]);
    expect(await client.request(aggregate('directus_folders', { aggregate: { count: '*' }, query: { filter: { name: { _eq: `Agg ${tag}` } } } }))).toEqual([{ count: 1 }]);
  });
});

describe('refusals', () => {
  const refused: [string, string, RegExp][] = [
    ['/files', 'aggregate[count]=nope', /Unknown field "nope" in aggregate/],
    ['/files', 'aggregate[sum]=title', /"sum" takes a numeric field \(filesize, width, height, duration, focal_point_x, focal_point_y\); "title" is not one/],
    ['/files', 'aggregate[avgDistinct]=type', /"avgDistinct" takes a numeric field/],
    ['/files', 'aggregate[max]=title', /"max" takes a numeric or date field/],
    ['/folders', 'aggregate[sum]=name', /"sum" takes a numeric field \(this collection has none\)/],
    ['/files', 'aggregate[median]=filesize', /Unknown aggregate function "median"; supported: count, countDistinct/],
    ['/files', 'aggregate[sum]=*', /"sum" needs a field; only "count" takes "\*"/],
    ['/files', 'aggregate[count]=*&aggregate[count]=id', /"count" of "\*" and of a field cannot be asked together/],
    ['/files', 'aggregate[count]=folder.name', /Unknown field "folder\.name" in aggregate/],
    ['/files', 'groupBy=folder.name', /Unknown field "folder\.name" in groupBy/],
    ['/files', 'groupBy=nope&aggregate[count]=*', /Unknown field "nope" in groupBy/],
    ['/files', 'aggregate[count]=*&fields=id', /"fields" does not apply with "aggregate" or "groupBy"/],
    ['/files', 'aggregate[count]=*&groupBy=type&sort=title', /"sort" with "aggregate" may only name "groupBy" fields \(type\)/],
    ['/files', 'aggregate=%5B1%5D', /"aggregate" must be an object/],
    ['/files', 'aggregate={bad', /"aggregate" must be a JSON object/],
    ['/files', `aggregate=${encodeURIComponent('{"__proto__":{"count":"*"}}')}`, /"__proto__" cannot be used/],
    ['/files', 'aggregate[count][x]=id', /Malformed aggregate parameter/],
    ['/files', `groupBy=${Array.from({ length: 9 }, () => 'type').join(',')}`, /"groupBy" may name at most 8 fields/],
    ['/files', Array.from({ length: 17 }, (_, i) => `aggregate[count]=id${i % 2 ? ',type' : ''}`).join('&').replace(/id,type/g, 'id,type,width'), /at most 16 function–field pairs/],
  ];
  for (const [path, query, message] of refused) {
    it(`${path}?${decodeURIComponent(query).slice(0, 80)} → 400`, async () => {
      const error = await errorOf(await api(`${path}?${query}`));
      expect(error).toMatchObject({ status: 400, code: 'INVALID_QUERY' });
      expect(error.message).toMatch(message);
    });
  }
});
