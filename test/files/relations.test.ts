import { readFile, readFiles, readFolders } from '@directus/sdk';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, errorOf, type FileJson, uploadFile } from '../helpers';
import { sdk } from './sdk-client';

/**
 * The `folder` relation (files) and `parent` (folders), followed as Directus follows a many-to-one:
 * in `fields` (the key becomes the folder's record), in `filter`, in `sort`; at most two hops.
 */
const tag = `rel-${crypto.randomUUID().slice(0, 8)}`;
const only = `filter[tags][_contains]=${tag}`;
interface Folder {
  id: string;
  name: string;
  parent: string | null;
}
let top: Folder;
let child: Folder;
let inChild: FileJson;
let inTop: FileJson;
let loose: FileJson;

async function folder(name: string, parent: string | null): Promise<Folder> {
  const res = await api('/folders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, parent }) });
  return ((await res.json()) as { data: Folder }).data;
}

async function list<T = Record<string, unknown>>(query: string, path = '/files'): Promise<T[]> {
  const res = await api(`${path}?${query}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { data: T[] }).data;
}

const json = (filter: unknown) => `filter=${encodeURIComponent(JSON.stringify(filter))}`;

beforeAll(async () => {
  top = await folder(`Top ${tag}`, null);
  child = await folder(`Child ${tag}`, top.id);
  const tags = JSON.stringify([tag]);
  inChild = await uploadFile({ name: 'a.txt', data: 'a' }, { title: 'A', tags, folder: child.id });
  inTop = await uploadFile({ name: 'b.txt', data: 'b' }, { title: 'B', tags, folder: top.id });
  loose = await uploadFile({ name: 'c.txt', data: 'c' }, { title: 'C', tags });
});

describe('relational fields', () => {
  it('folder.* expands the folder, folder.name keeps only its name, a file without a folder has null', async () => {
    expect(await list(`${only}&fields=title,folder.*&sort=title`)).toEqual([
      { title: 'A', folder: { id: child.id, name: child.name, parent: top.id } },
      { title: 'B', folder: { id: top.id, name: top.name, parent: null } },
      { title: 'C', folder: null },
    ]);
    expect(await list(`${only}&fields=folder.name&sort=title`)).toEqual([{ folder: { name: child.name } }, { folder: { name: top.name } }, { folder: null }]);
    expect(await list(`${only}&fields=id,folder.id,folder.parent&sort=title&limit=1`)).toEqual([{ id: inChild.id, folder: { id: child.id, parent: top.id } }]);
  });

  it('two hops: folder.parent.name; * with a relation keeps every field', async () => {
    const [a] = await list<Record<string, unknown>>(`${only}&fields=*,folder.name,folder.parent.name&sort=title&limit=1`);
    expect(a).toMatchObject({ id: inChild.id, title: 'A', filesize: '1', folder: { name: child.name, parent: { name: top.name } } });
    expect(await list(`${only}&fields=title,folder.parent.*&sort=title&limit=2`)).toEqual([
      { title: 'A', folder: { parent: { id: top.id, name: top.name, parent: null } } },
      { title: 'B', folder: { parent: null } },
    ]);
  });

  it('one record too: GET /files/:id and GET /folders/:id', async () => {
    const res = await api(`/files/${inChild.id}?fields=title,folder.name,folder.parent.name`);
    expect(await res.json()).toEqual({ data: { title: 'A', folder: { name: child.name, parent: { name: top.name } } } });
    const loneRes = await api(`/files/${loose.id}?fields=id,folder.*`);
    expect(await loneRes.json()).toEqual({ data: { id: loose.id, folder: null } });
    const folderRes = await api(`/folders/${child.id}?fields=name,parent.name`);
    expect(await folderRes.json()).toEqual({ data: { name: child.name, parent: { name: top.name } } });
  });

  it('on /folders: parent.* and parent.name', async () => {
    const filter = `filter[name][_contains]=${tag}`;
    expect(await list(`${filter}&fields=name,parent.*&sort=name`, '/folders')).toEqual([
      { name: child.name, parent: { id: top.id, name: top.name, parent: null } },
      { name: top.name, parent: null },
    ]);
  });
});

describe('relational filters and sort', () => {
  it('filters through folder: name, parent _null, and inside _and/_or', async () => {
    const titles = async (q: string) => (await list<{ title: string }>(`${q}&fields=title&sort=title`)).map((f) => f.title);
    expect(await titles(`${only}&filter[folder][name][_eq]=${encodeURIComponent(child.name)}`)).toEqual(['A']);
    expect(await titles(json({ _and: [{ tags: { _contains: tag } }, { folder: { name: { _eq: child.name } } }] }))).toEqual(['A']);
    // A LEFT join, as Directus's: a file without a folder has a null folder.parent.
    expect(await titles(json({ _and: [{ tags: { _contains: tag } }, { folder: { parent: { _null: true } } }] }))).toEqual(['B', 'C']);
    expect(await titles(json({ _and: [{ tags: { _contains: tag } }, { folder: { parent: { _eq: top.id } } }] }))).toEqual(['A']);
    expect(await titles(json({ _and: [{ tags: { _contains: tag } }, { _or: [{ folder: { name: { _eq: child.name } } }, { title: { _eq: 'C' } }] }] }))).toEqual(['A', 'C']);
    expect(await titles(json({ _and: [{ tags: { _contains: tag } }, { folder: { parent: { name: { _starts_with: 'Top' } } } }] }))).toEqual(['A']);
    expect(await titles(json({ _and: [{ tags: { _contains: tag } }, { folder: { _nnull: true, name: { _contains: 'Top' } } }] }))).toEqual(['B']);
  });

  it('sort=folder.name and -folder.name (no folder sorts first ascending, as SQLite orders null)', async () => {
    const titles = async (sort: string) => (await list<{ title: string }>(`${only}&fields=title&sort=${sort}`)).map((f) => f.title);
    expect(await titles('folder.name')).toEqual(['C', 'A', 'B']);
    expect(await titles('-folder.name')).toEqual(['B', 'A', 'C']);
    expect(await titles('-folder.parent.name,title')).toEqual(['A', 'B', 'C']);
  });

  it('filters folders through parent', async () => {
    const names = (await list<Folder>(`filter[parent][name][_eq]=${encodeURIComponent(top.name)}&fields=name`, '/folders')).map((f) => f.name);
    expect(names).toEqual([child.name]);
  });

  it('meta.filter_count counts through the relation', async () => {
    const res = await api(`/files?${only}&filter[folder][name][_nnull]=true&meta=filter_count&limit=1`);
    expect(((await res.json()) as { meta: { filter_count: number } }).meta.filter_count).toBe(2);
  });
});

describe('long lists (ids first, then rows by key, in batches)', () => {
  it('limit=-1 over 230 folders keeps the order across batches, expands parent, and pages with offset', async () => {
    const group = `long-${tag}`;
    const parent = await folder(`${group} parent`, null);
    const names = Array.from({ length: 229 }, (_, i) => `${group} ${String(i).padStart(3, '0')}`);
    for (let i = 0; i < names.length; i += 20) await Promise.all(names.slice(i, i + 20).map((name) => folder(name, parent.id)));
    const all = await list<{ name: string; parent: { name: string } | null }>(`filter[name][_starts_with]=${encodeURIComponent(group)}&sort=-name&limit=-1&fields=name,parent.name`, '/folders');
    expect(all.map((f) => f.name)).toEqual([`${group} parent`, ...names].sort().reverse());
    expect(all.filter((f) => f.parent?.name === parent.name)).toHaveLength(229);
    const tail = await list<{ name: string }>(`filter[name][_starts_with]=${encodeURIComponent(group)}&sort=name&limit=150&offset=100&fields=name`, '/folders');
    expect(tail.map((f) => f.name)).toEqual(names.slice(100, 229).concat(`${group} parent`).slice(0, 150));
  });
});

describe('@directus/sdk with relations', () => {
  const client = sdk();
  it('readFiles with nested fields and a relational filter, readFile, readFolders', async () => {
    const files = await client.request(readFiles({ fields: ['title', { folder: ['name', { parent: ['name'] }] }], filter: { tags: { _contains: tag }, folder: { name: { _eq: child.name } } } }));
    expect(files).toEqual([{ title: 'A', folder: { name: child.name, parent: { name: top.name } } }]);
    expect(await client.request(readFile(inTop.id, { fields: ['id', { folder: ['*'] }] }))).toEqual({ id: inTop.id, folder: { id: top.id, name: top.name, parent: null } });
    const folders = await client.request(readFolders({ fields: ['name', { parent: ['name'] }], filter: { parent: { name: { _eq: top.name } } } }));
    expect(folders).toEqual([{ name: child.name, parent: { name: top.name } }]);
  });
});

describe('refusals', () => {
  const refused: [string, string, RegExp][] = [
    ['/files', 'fields=folder.parent.parent.name', /"folder\.parent\.parent\.name" in fields follows 3 relations; at most 2/],
    ['/files', json({ folder: { parent: { parent: { name: { _eq: 'x' } } } } }), /"folder\.parent\.parent\.name" in filter follows 3 relations; at most 2/],
    ['/files', 'sort=-folder.parent.parent.id', /follows 3 relations; at most 2/],
    ['/folders', 'fields=parent.parent.parent.*', /follows 3 relations; at most 2/],
    ['/files', 'fields=title.name', /"title" in "title\.name" \(fields\) is not a relation; only "folder" is/],
    ['/files', 'fields=folder.size', /Unknown field "folder\.size" in fields/],
    ['/files', 'fields=folder.name.x', /"name" in "folder\.name\.x" \(fields\) is not a relation of folders/],
    ['/files', 'filter[title][name][_eq]=x', /Unknown filter operator "name" on "title"/],
    ['/files', 'filter[folder][size][_eq]=x', /Unknown field "folder\.size" in filter/],
    ['/files', 'filter[folder][name]=x', /Filter on "folder\.name" needs an operator/],
    ['/folders', 'sort=parent.nope', /Unknown field "parent\.nope" in sort/],
    ['/files', 'filter[folder][__proto__][_eq]=x', /"__proto__" cannot be used/],
  ];
  for (const [path, query, message] of refused) {
    it(`${path}?${decodeURIComponent(query)} → 400`, async () => {
      const error = await errorOf(await api(`${path}?${query}`));
      expect(error).toMatchObject({ status: 400, code: 'INVALID_QUERY' });
      expect(error.message).toMatch(message);
    });
  }
});
