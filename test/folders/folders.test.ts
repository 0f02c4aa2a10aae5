import { createDirectus, createFolder, deleteFolder, readFolder, readFolders, rest, staticToken, updateFolder } from '@directus/sdk';
import { exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, api, errorOf, type FileJson, newToken, tusMetadata, uploadFile } from '../helpers';

/** Directus's /folders: shapes, rules (no cycles, deleting moves contents to the root), and files' `folder`. */
const json = { 'content-type': 'application/json' };
interface Folder {
  id: string;
  name: string;
  parent: string | null;
}

async function post(name: string, parent: string | null = null, token: string = ADMIN_TOKEN): Promise<Folder> {
  const res = await api('/folders', { method: 'POST', headers: json, body: JSON.stringify({ name, parent }), token });
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { data: Folder }).data;
}

const patch = (id: string, body: unknown) => api(`/folders/${id}`, { method: 'PATCH', headers: json, body: JSON.stringify(body) });
const fileOf = async (id: string) => ((await (await api(`/files/${id}`)).json()) as { data: FileJson }).data;

function sdk(token = ADMIN_TOKEN) {
  const fetchWorker = (input: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(new Request(input, init));
  return createDirectus('http://assets.test', { globals: { fetch: fetchWorker as typeof fetch } })
    .with(staticToken(token))
    .with(rest());
}

let uploadToken: string;
let readToken: string;
beforeAll(async () => {
  uploadToken = (await newToken('upload')).token;
  readToken = (await newToken('read')).token;
});

describe('/folders', () => {
  it('creates, reads, lists with filter and sort, renames and moves', async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const root = await post(`root-${tag}`);
    expect(root).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), name: `root-${tag}`, parent: null });
    const b = await post(`b-${tag}`, root.id);
    const a = await post(`a-${tag}`, root.id);
    expect(((await (await api(`/folders/${a.id}`, { token: readToken })).json()) as { data: Folder }).data).toEqual(a);

    const children = (await (await api(`/folders?filter[parent][_eq]=${root.id}&sort=name`, { token: readToken })).json()) as { data: Folder[] };
    expect(children.data.map((f) => f.name)).toEqual([`a-${tag}`, `b-${tag}`]);
    const searched = (await (await api(`/folders?search=${tag}&sort=-name&fields=name&meta=filter_count`)).json()) as { data: unknown[]; meta: { filter_count: number } };
    expect(searched).toEqual({ data: [{ name: `root-${tag}` }, { name: `b-${tag}` }, { name: `a-${tag}` }], meta: { filter_count: 3 } });

    const renamed = await patch(b.id, { name: `b2-${tag}`, parent: null });
    expect(((await renamed.json()) as { data: Folder }).data).toEqual({ id: b.id, name: `b2-${tag}`, parent: null });
  });

  it('refuses cycles, unknown parents, bad names and unknown fields', async () => {
    const top = await post('top');
    const mid = await post('mid', top.id);
    const low = await post('low', mid.id);
    const refused: [string, unknown, RegExp][] = [
      [top.id, { parent: top.id }, /into itself or into one of its subfolders/],
      [top.id, { parent: low.id }, /into itself or into one of its subfolders/],
      [mid.id, { parent: low.id }, /into itself or into one of its subfolders/],
      [low.id, { parent: crypto.randomUUID() }, /"parent" names no folder/],
      [low.id, { parent: 'not-an-id' }, /"parent" names no folder/],
      [low.id, { name: '' }, /"name" must be a non-empty string/],
      [low.id, { name: 'x'.repeat(256) }, /at most 255/],
      [low.id, { id: crypto.randomUUID() }, /"id" is read-only/],
      [low.id, { colour: 'red' }, /Unknown field "colour"/],
    ];
    for (const [id, body, message] of refused) {
      const error = await errorOf(await patch(id, body));
      expect(error, JSON.stringify(body)).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
      expect(error.message).toMatch(message);
    }
    expect(await errorOf(await api('/folders', { method: 'POST', headers: json, body: '{"parent":null}' }))).toMatchObject({ status: 400, message: 'A folder needs a "name".' });
    // Moving sideways is fine.
    expect((await patch(low.id, { parent: top.id })).status).toBe(200);
    expect(await errorOf(await api(`/folders/${crypto.randomUUID()}`))).toMatchObject({ status: 404, code: 'NOT_FOUND' });
  });

  it('deleting a folder moves its files and subfolders to the root', async () => {
    const doomed = await post('doomed');
    const child = await post('child', doomed.id);
    const file = await uploadFile({ name: 'in-folder.txt', data: 'x' }, { folder: doomed.id });
    const other = await uploadFile({ name: 'in-child.txt', data: 'y' }, { folder: child.id });
    expect(file.folder).toBe(doomed.id);
    expect((await api(`/folders/${doomed.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await api(`/folders/${doomed.id}`)).status).toBe(404);
    expect((await fileOf(file.id)).folder).toBeNull();
    expect((await fileOf(other.id)).folder).toBe(child.id);
    expect(((await (await api(`/folders/${child.id}`)).json()) as { data: Folder }).data.parent).toBeNull();
  });

  it('scopes: read lists, upload creates, admin changes', async () => {
    expect((await api('/folders', { token: null })).status).toBe(401);
    expect((await api('/folders', { method: 'POST', headers: json, body: '{"name":"r"}', token: readToken })).status).toBe(403);
    const mine = await post('made by an uploader', null, uploadToken);
    expect((await api(`/folders/${mine.id}`, { method: 'PATCH', headers: json, body: '{"name":"x"}', token: uploadToken })).status).toBe(403);
    expect((await api(`/folders/${mine.id}`, { method: 'DELETE', token: uploadToken })).status).toBe(403);
  });
});

describe("a file's folder must exist", () => {
  const missing = () => crypto.randomUUID();

  it('on upload, import, PATCH and TUS: 400, nothing stored', async () => {
    const body = new FormData();
    body.append('title', 'nowhere');
    body.append('folder', missing());
    body.append('file', new File(['x'], 'x.txt'));
    expect(await errorOf(await api('/files', { method: 'POST', body }))).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
    expect(((await (await api('/files?filter[title][_eq]=nowhere')).json()) as { data: unknown[] }).data).toEqual([]);

    const file = await uploadFile({ name: 'somewhere.txt', data: 'x' });
    const edit = await api(`/files/${file.id}`, { method: 'PATCH', headers: json, body: JSON.stringify({ folder: 'Photos/2024' }) });
    expect(await errorOf(edit)).toMatchObject({ status: 400, message: expect.stringMatching(/"folder" names no folder/) });

    const tus = await api('/files/tus', { method: 'POST', headers: { 'tus-resumable': '1.0.0', 'upload-length': '1', 'upload-metadata': tusMetadata({ filename: 'x', folder: missing() }) } });
    expect(await errorOf(tus)).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });

    const folder = await post('real');
    const moved = await api(`/files/${file.id}`, { method: 'PATCH', headers: json, body: JSON.stringify({ folder: folder.id }) });
    expect(((await moved.json()) as { data: FileJson }).data.folder).toBe(folder.id);
    const back = await api(`/files/${file.id}`, { method: 'PATCH', headers: json, body: JSON.stringify({ folder: null }) });
    expect(((await back.json()) as { data: FileJson }).data.folder).toBeNull();
  });

  it('a TUS upload whose folder is deleted before it completes lands at the root', async () => {
    const folder = await post('short-lived');
    const created = await api('/files/tus', { method: 'POST', headers: { 'tus-resumable': '1.0.0', 'upload-length': '3', 'upload-metadata': tusMetadata({ filename: 'late.txt', folder: folder.id }) } });
    expect(created.status).toBe(201);
    expect((await api(`/folders/${folder.id}`, { method: 'DELETE' })).status).toBe(204);
    const done = await api(new URL(created.headers.get('location') as string).pathname, {
      method: 'PATCH',
      headers: { 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      body: 'abc',
    });
    expect(done.status, await done.clone().text()).toBe(204);
    expect((await fileOf(done.headers.get('directus-file-id') as string)).folder).toBeNull();
  });

  it('import checks it too', async () => {
    const res = await api('/files/import', { method: 'POST', headers: json, body: JSON.stringify({ url: 'https://example.com/a.txt', data: { folder: missing() } }) });
    expect(await errorOf(res)).toMatchObject({ status: 400, message: expect.stringMatching(/"folder" names no folder/) });
  });
});

describe('@directus/sdk folders', () => {
  it('createFolder, readFolders, readFolder, updateFolder, deleteFolder', async () => {
    const client = sdk();
    const parent = await client.request(createFolder({ name: 'SDK parent' }));
    const child = await client.request(createFolder({ name: 'SDK child', parent: parent.id }));
    expect(child).toMatchObject({ name: 'SDK child', parent: parent.id });
    const listed = await client.request(readFolders({ filter: { parent: { _eq: parent.id } }, sort: ['name'], limit: 10 }));
    expect(listed.map((f) => f.id)).toEqual([child.id]);
    expect(await client.request(readFolder(child.id, { fields: ['id', 'name'] }))).toEqual({ id: child.id, name: 'SDK child' });
    expect(await client.request(updateFolder(child.id, { name: 'Renamed' }))).toMatchObject({ id: child.id, name: 'Renamed' });
    await client.request(deleteFolder(parent.id));
    expect((await client.request(readFolder(child.id))).parent).toBeNull();
    await expect(client.request(updateFolder(child.id, { parent: child.id }))).rejects.toMatchObject({ errors: [{ extensions: { code: 'INVALID_PAYLOAD' } }] });
  });
});
