import { beforeAll, describe, expect, it } from 'vitest';
import { api, errorOf, type FileJson, newToken, uploadFile } from '../helpers';

/**
 * `private_hash` is a capability (`/assets/<private_hash>` serves a private file to anyone): only the
 * admin scope sees it, filters, sorts or searches on it. Signed URLs are capabilities that outlive
 * the token that made them, so only the admin scope makes them.
 */
let readToken: string;
let uploadToken: string;
let secret: FileJson;

beforeAll(async () => {
  readToken = (await newToken('read')).token;
  uploadToken = (await newToken('upload')).token;
  secret = await uploadFile({ name: 'hash-holder.txt', data: 'private' }, { access: 'private', title: 'Hash holder' });
  expect(secret.private_hash).toMatch(/^[A-Za-z0-9_-]{22}$/);
});

describe('private_hash is shown to the admin scope only', () => {
  it('read tokens get records without it, whole or listed', async () => {
    const one = ((await (await api(`/files/${secret.id}`, { token: readToken })).json()) as { data: Record<string, unknown> }).data;
    expect(one.id).toBe(secret.id);
    expect(one).not.toHaveProperty('private_hash');
    const list = (await (await api(`/files?filter[id][_eq]=${secret.id}`, { token: readToken })).json()) as { data: Record<string, unknown>[] };
    expect(list.data).toHaveLength(1);
    expect(list.data[0]).not.toHaveProperty('private_hash');
    const admin = ((await (await api(`/files/${secret.id}`)).json()) as { data: FileJson }).data;
    expect(admin.private_hash).toBe(secret.private_hash);
  });

  it('an upload token does not get it back from the files it uploads', async () => {
    const body = new FormData();
    body.append('file', new File(['x'], 'mine.txt'));
    const res = await api('/files', { method: 'POST', token: uploadToken, body });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: Record<string, unknown> }).data).not.toHaveProperty('private_hash');
  });

  const forms = (hash: string) => [
    'fields=private_hash',
    'fields=id,private_hash',
    `filter[private_hash][_starts_with]=${hash.slice(0, 1)}`,
    `filter[private_hash][_eq]=${hash}`,
    `filter[private_hash][_gt]=M`,
    'filter[private_hash][_nnull]=true',
    `filter[_or][0][private_hash][_contains]=${hash.slice(0, 3)}`,
    `filter=${encodeURIComponent(JSON.stringify({ _and: [{ id: { _nnull: true } }, { _or: [{ private_hash: { _ends_with: hash.slice(-2) } }] }] }))}`,
    'sort=private_hash',
    'sort=id,-private_hash',
  ];
  it('read tokens cannot name it in fields, filters or sorts: 403 whatever the form', async () => {
    for (const query of forms(secret.private_hash as string)) {
      const error = await errorOf(await api(`/files?${query}`, { token: readToken }));
      expect(error, query).toMatchObject({ status: 403, code: 'FORBIDDEN' });
      expect(error.message).toMatch(/"private_hash" needs the admin scope/);
    }
    expect((await errorOf(await api(`/files/${secret.id}?fields=private_hash`, { token: uploadToken }))).status).toBe(403);
  });

  it('search does not look at it', async () => {
    const list = (await (await api(`/files?search=${secret.private_hash}`, { token: readToken })).json()) as { data: unknown[] };
    expect(list.data).toEqual([]);
  });

  it('the admin scope may filter on it', async () => {
    const list = (await (await api(`/files?filter[private_hash][_eq]=${secret.private_hash}`)).json()) as { data: FileJson[] };
    expect(list.data.map((f) => f.id)).toEqual([secret.id]);
  });
});

describe('signed URLs are made by the admin scope only', () => {
  it('read and upload tokens cannot sign, for private or public files', async () => {
    const open = await uploadFile({ name: 'open.txt', data: 'open' });
    for (const token of [readToken, uploadToken]) {
      for (const id of [secret.id, open.id]) {
        expect(await errorOf(await api(`/files/${id}/sign?expires_in=604800`, { token }))).toMatchObject({ status: 403, code: 'FORBIDDEN' });
      }
    }
    const signed = await api(`/files/${secret.id}/sign`);
    expect(signed.status).toBe(200);
    const url = new URL(((await signed.json()) as { data: { url: string } }).data.url);
    // The default lifetime is an hour.
    expect(Number(url.searchParams.get('expires')) - Date.now() / 1000).toBeLessThanOrEqual(3600);
  });
});
