import { describe, expect, it } from 'vitest';
import { api, errorOf, type FileJson, form, newToken, testClient, uploadFile } from '../helpers';

const client = testClient();

async function list(query: string): Promise<{ data: FileJson[]; meta?: Record<string, number> }> {
  const res = await api(`/files?${query}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json();
}

describe('GET /files', () => {
  const tag = `set-${crypto.randomUUID().slice(0, 8)}`;
  const only = `filter[tags][_contains]=${tag}`;

  it('filters, sorts, searches and pages', async () => {
    for (const [name, size] of [
      ['alpha.txt', 'aaaa'],
      ['beta.txt', 'bb'],
      ['gamma.jpg', 'gggggg'],
    ] as const) {
      await uploadFile({ name, data: size, type: name.endsWith('.jpg') ? 'image/jpeg' : 'text/plain' }, { tags: JSON.stringify([tag]), description: `the ${name} file` });
    }
    expect((await list(`${only}&sort=title`)).data.map((f) => f.title)).toEqual(['Alpha', 'Beta', 'Gamma']);
    expect((await list(`${only}&sort=-filesize`)).data.map((f) => f.filesize)).toEqual(['6', '4', '2']);
    expect((await list(`${only}&filter[type][_eq]=image/jpeg`)).data.map((f) => f.title)).toEqual(['Gamma']);
    expect((await list(`${only}&filter[type][_neq]=image/jpeg&sort=title`)).data.map((f) => f.title)).toEqual(['Alpha', 'Beta']);
    expect((await list(`${only}&filter[title][_in]=Alpha,Gamma&sort=title`)).data.map((f) => f.title)).toEqual(['Alpha', 'Gamma']);
    expect((await list(`${only}&filter[title][_starts_with]=Be`)).data.map((f) => f.title)).toEqual(['Beta']);
    expect((await list(`${only}&filter[filesize][_gt]=3&sort=title`)).data.map((f) => f.title)).toEqual(['Alpha', 'Gamma']);
    expect((await list(`${only}&filter[filesize][_lt]=3`)).data.map((f) => f.title)).toEqual(['Beta']);
    expect((await list(`${only}&filter[location][_null]=true`)).data).toHaveLength(3);
    expect((await list(`${only}&filter[description][_nnull]=true`)).data).toHaveLength(3);
    const json = encodeURIComponent(JSON.stringify({ _and: [{ tags: { _contains: tag } }, { _or: [{ title: { _eq: 'Alpha' } }, { title: { _eq: 'Beta' } }] }] }));
    expect((await list(`filter=${json}&sort=title`)).data.map((f) => f.title)).toEqual(['Alpha', 'Beta']);
    expect((await list(`${only}&search=GAMMA`)).data.map((f) => f.title)).toEqual(['Gamma']);
    expect((await list(`${only}&search=the beta`)).data.map((f) => f.title)).toEqual(['Beta']);

    const page2 = await list(`${only}&sort=title&limit=2&page=2&meta=total_count,filter_count`);
    expect(page2.data.map((f) => f.title)).toEqual(['Gamma']);
    expect(page2.meta?.filter_count).toBe(3);
    expect(page2.meta?.total_count).toBeGreaterThanOrEqual(3);
    expect((await list(`${only}&sort=title&limit=1&offset=1`)).data.map((f) => f.title)).toEqual(['Beta']);
    expect((await list(`${only}&limit=-1`)).data).toHaveLength(3);
    expect((await list(`${only}&fields=id,title&sort=title&limit=1`)).data).toEqual([{ id: expect.any(String), title: 'Alpha' }]);
  });

  it('a search with LIKE wildcards matches them literally', async () => {
    await uploadFile({ name: '100%_done.txt', data: 'x' }, { tags: JSON.stringify([`${tag}-w`]) });
    expect((await list(`filter[tags][_contains]=${tag}-w&search=0%_d`)).data).toHaveLength(1);
    expect((await list(`filter[tags][_contains]=${tag}-w&search=0%x`)).data).toHaveLength(0);
  });

  const refused: [string, RegExp][] = [
    ['filter[secret][_eq]=1', /Unknown field "secret" in filter/],
    ['filter[title][_regex]=x', /operator "_regex"/],
    ['sort=password', /Unknown field "password" in sort/],
    ['fields=id,nope', /Unknown field "nope"/],
    ['limit=abc', /"limit" must be a whole number/],
    ['filter={bad json', /JSON object/],
  ];
  for (const [query, message] of refused) {
    it(`refuses ${query} with 400 INVALID_QUERY`, async () => {
      const error = await errorOf(await api(`/files?${query}`));
      expect(error).toMatchObject({ status: 400, code: 'INVALID_QUERY' });
      expect(error.message).toMatch(message);
    });
  }
});

describe('GET/PATCH/DELETE /files/:id', () => {
  it('reads one file', async () => {
    const file = await uploadFile({ name: 'one.txt', data: 'one' });
    const res = await api(`/files/${file.id}`);
    expect(((await res.json()) as { data: FileJson }).data).toEqual(file);
    expect(await errorOf(await api(`/files/${crypto.randomUUID()}`))).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    expect(await errorOf(await api('/files/not-a-uuid'))).toMatchObject({ status: 404, code: 'NOT_FOUND' });
  });

  it('edits fields and refuses read-only or unknown ones', async () => {
    const file = await uploadFile({ name: 'edit.txt', data: 'x' });
    const res = await api(`/files/${file.id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'New', tags: ['t'], focal_point_x: 10, focal_point_y: 20, location: '1,2', metadata: { a: 1 }, filename_download: 'new.txt' }),
    });
    expect(res.status).toBe(200);
    const updated = ((await res.json()) as { data: FileJson }).data;
    expect(updated).toMatchObject({ title: 'New', tags: ['t'], focal_point_x: 10, focal_point_y: 20, location: '1,2', metadata: { a: 1 }, filename_download: 'new.txt' });
    expect(updated.modified_on >= file.modified_on).toBe(true);
    for (const body of [{ filesize: 1 }, { storage: 'other' }, { nope: 1 }, { tags: 'not-a-list' }, { focal_point_x: 1.5 }]) {
      const error = await errorOf(await api(`/files/${file.id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));
      expect(error, JSON.stringify(body)).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
    }
  });

  it('replaces the bytes: new ETag, derivatives gone', async () => {
    const file = await uploadFile({ name: 'photo.jpg', data: 'version one' });
    const etag1 = (await api(`/assets/${file.id}`)).headers.get('etag');
    await client.putObject(`generated/${file.id}/thumb.jpg`, new Uint8Array([1]));
    const res = await api(`/files/${file.id}`, { method: 'PATCH', body: form([{ name: 'photo.png', data: 'version two!', type: 'image/png' }], { title: 'Replaced' }) });
    expect(res.status, await res.clone().text()).toBe(200);
    const updated = ((await res.json()) as { data: FileJson }).data;
    expect(updated).toMatchObject({ id: file.id, title: 'Replaced', filesize: '12', type: 'image/png' });
    // Written beside the old bytes, never over them: a replacement that fails leaves the file as it was.
    expect(updated.filename_disk).toMatch(new RegExp(`^${file.id}\\.[0-9a-f]{8}\\.png$`));
    const asset = await api(`/assets/${file.id}`);
    expect(await asset.text()).toBe('version two!');
    expect(asset.headers.get('etag')).not.toBe(etag1);
    expect(await client.headObject(`generated/${file.id}/thumb.jpg`)).toBeNull();
    expect(await client.headObject(`${file.id}.jpg`)).toBeNull();
    const again = await api(`/files/${file.id}`, { method: 'PATCH', body: form([{ name: 'photo.png', data: 'version three', type: 'image/png' }]) });
    const third = ((await again.json()) as { data: FileJson }).data;
    expect(third.filename_disk).not.toBe(updated.filename_disk);
    expect(await client.headObject(updated.filename_disk)).toBeNull();
    expect(await (await api(`/assets/${file.id}`)).text()).toBe('version three');
  });

  it('a replacement takes the new upload\'s name and type unless the form sets the name', async () => {
    const file = await uploadFile({ name: 'sunset.jpg', data: 'jpeg bytes' });
    const replaced = await api(`/files/${file.id}`, { method: 'PATCH', body: form([{ name: 'sunset-v2.png', data: 'png bytes', type: 'image/png' }]) });
    expect(((await replaced.json()) as { data: FileJson }).data).toMatchObject({ filename_download: 'sunset-v2.png', type: 'image/png' });
    const download = await api(`/assets/${file.id}?download`);
    expect(download.headers.get('content-type')).toBe('image/png');
    expect(download.headers.get('content-disposition')).toContain('sunset-v2.png');
    await download.arrayBuffer();

    const named = await api(`/files/${file.id}`, { method: 'PATCH', body: form([{ name: 'upload.bin', data: 'more bytes' }], { filename_download: 'kept-name.png' }) });
    expect(((await named.json()) as { data: FileJson }).data.filename_download).toBe('kept-name.png');
  });

  it('deletes the original, its derivatives and the record', async () => {
    const file = await uploadFile({ name: 'gone.txt', data: 'bye' });
    await client.putObject(`generated/${file.id}/a.webp`, new Uint8Array([1]));
    expect((await api(`/files/${file.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(await client.headObject(file.filename_disk)).toBeNull();
    expect(await client.headObject(`generated/${file.id}/a.webp`)).toBeNull();
    expect((await api(`/files/${file.id}`)).status).toBe(404);
    expect((await api(`/assets/${file.id}`)).status).toBe(404);
  });

  it('deletes several files at once, and refuses a list naming an unknown one without deleting any', async () => {
    const a = await uploadFile({ name: 'a.txt', data: 'a' });
    const b = await uploadFile({ name: 'b.txt', data: 'b' });
    const json = { 'content-type': 'application/json' };
    const bad = await api('/files', { method: 'DELETE', headers: json, body: JSON.stringify([a.id, crypto.randomUUID()]) });
    expect(bad.status).toBe(404);
    expect((await api(`/files/${a.id}`)).status).toBe(200);
    expect((await api('/files', { method: 'DELETE', headers: json, body: JSON.stringify({ keys: [a.id, b.id] }) })).status).toBe(204);
    expect((await api(`/files/${a.id}`)).status).toBe(404);
    expect((await api(`/files/${b.id}`)).status).toBe(404);
  });
});

describe('PATCH /files (batch)', () => {
  const json = { 'content-type': 'application/json' };
  const folderNamed = async (name: string) => ((await (await api('/folders', { method: 'POST', headers: json, body: JSON.stringify({ name }) })).json()) as { data: { id: string } }).data.id;

  it('moves several files into a folder at once and answers their records', async () => {
    const a = await uploadFile({ name: 'batch-a.txt', data: 'a' });
    const b = await uploadFile({ name: 'batch-b.txt', data: 'b' });
    const folder = await folderNamed('Batch target');
    const res = await api('/files', { method: 'PATCH', headers: json, body: JSON.stringify({ keys: [a.id, b.id], data: { folder } }) });
    expect(res.status, await res.clone().text()).toBe(200);
    const { data } = (await res.json()) as { data: FileJson[] };
    expect(data.map((f) => [f.id, f.folder])).toEqual([[a.id, folder], [b.id, folder]]);
    expect(((await (await api(`/files/${b.id}`)).json()) as { data: FileJson }).data.folder).toBe(folder);
  });

  it('changes none when one id is unknown, the folder does not exist, or a field is not editable', async () => {
    const a = await uploadFile({ name: 'batch-c.txt', data: 'c' });
    const folder = await folderNamed('Batch untouched');
    const patch = (body: unknown) => api('/files', { method: 'PATCH', headers: json, body: JSON.stringify(body) });
    expect(await errorOf(await patch({ keys: [a.id, crypto.randomUUID()], data: { folder } }))).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    expect(await errorOf(await patch({ keys: [a.id], data: { folder: crypto.randomUUID() } }))).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
    expect(await errorOf(await patch({ keys: [a.id], data: { filesize: 1 } }))).toMatchObject({ status: 400 });
    expect(((await (await api(`/files/${a.id}`)).json()) as { data: FileJson }).data.folder).toBeNull();
    expect(await errorOf(await patch({ keys: [a.id], data: [] }))).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD', message: expect.stringMatching(/"data" must be an object/) });
    expect(await errorOf(await patch({ data: { folder } }))).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD', message: expect.stringMatching(/"keys"/) });
    expect(await errorOf(await patch({ keys: Array.from({ length: 101 }, () => a.id), data: { folder } }))).toMatchObject({
      status: 400,
      message: 'A batch update may name at most 100 ids; send the rest in another request.',
    });
  });

  it('needs the admin scope, as PATCH /files/:id does', async () => {
    const a = await uploadFile({ name: 'batch-d.txt', data: 'd' });
    const { token } = await newToken('upload');
    const res = await api('/files', { method: 'PATCH', token, headers: json, body: JSON.stringify({ keys: [a.id], data: { title: 'Changed' } }) });
    expect(await errorOf(res)).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    expect(((await (await api(`/files/${a.id}`)).json()) as { data: FileJson }).data.title).not.toBe('Changed');
  });
});

describe('auth', () => {
  it('no token and a wrong token are 401 without hints; ?access_token= works', async () => {
    const none = await api('/files', { token: null });
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(await errorOf(none)).toMatchObject({ status: 401, code: 'INVALID_CREDENTIALS' });
    const wrong = await errorOf(await api('/files', { token: 'test-admin-token-0123456780' }));
    expect(wrong).toMatchObject({ status: 401, code: 'INVALID_CREDENTIALS' });
    expect(wrong.message).not.toContain('test-admin-token');
    expect((await api('/files?access_token=test-admin-token-0123456789&limit=1', { token: null })).status).toBe(200);
    for (const [method, path] of [['POST', '/files'], ['PATCH', `/files/${crypto.randomUUID()}`], ['DELETE', `/files/${crypto.randomUUID()}`], ['POST', '/files/import']]) {
      expect((await api(path as string, { method, token: null })).status, `${method} ${path}`).toBe(401);
    }
  });
});
