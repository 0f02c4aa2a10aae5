import { beforeAll, describe, expect, it } from 'vitest';
import { api, errorOf, type FileJson, newToken, sha256, tusMetadata, uploadFile } from '../helpers';

/**
 * One policy for every route that writes: an upload token creates new files (setting any of their
 * fields, `access` included) and never touches an existing one, whether it asks through REST, the
 * fields of a multipart body or TUS `Upload-Metadata`.
 */
const TUS = { 'tus-resumable': '1.0.0' };
const OCTETS = { 'content-type': 'application/offset+octet-stream' };
const html = '<script>alert(document.cookie)</script>';
let uploadToken: string;
let readToken: string;
let victim: FileJson;
let victimBytes: string;

async function tusCreate(token: string, metadata: Record<string, string>, body = html): Promise<Response> {
  const res = await api('/files/tus', {
    method: 'POST',
    token,
    headers: { ...TUS, ...OCTETS, 'upload-length': String(new TextEncoder().encode(body).byteLength), 'upload-metadata': tusMetadata(metadata) },
    body,
  });
  return res;
}

async function assertVictimUnchanged(): Promise<void> {
  const record = ((await (await api(`/files/${victim.id}`)).json()) as { data: FileJson }).data;
  expect(record).toEqual(victim);
  const asset = await api(`/assets/${victim.id}`);
  expect(await sha256(await asset.arrayBuffer())).toBe(victimBytes);
}

beforeAll(async () => {
  uploadToken = (await newToken('upload')).token;
  readToken = (await newToken('read')).token;
  const bytes = new TextEncoder().encode('private report, version 1');
  victim = await uploadFile({ name: 'report.txt', data: bytes, type: 'text/plain' }, { access: 'private' });
  victimBytes = await sha256(bytes);
});

describe('an upload token cannot act on an existing file', () => {
  const forms: [string, () => Record<string, string>][] = [
    ['id and access public', () => ({ filename: 'x.html', filetype: 'text/html', id: victim.id, access: 'public' })],
    ['id alone', () => ({ filename: 'x.html', id: victim.id })],
    ['id with fields', () => ({ filename: 'report.txt', id: victim.id, title: 'Owned' })],
    ['id of a file that does not exist (no existence oracle)', () => ({ filename: 'x', id: crypto.randomUUID() })],
    ['id that is not a uuid', () => ({ filename: 'x', id: '../../etc' })],
  ];
  for (const [what, metadata] of forms) {
    it(`TUS Upload-Metadata ${what}: 403, nothing stored`, async () => {
      const res = await tusCreate(uploadToken, metadata());
      expect(await errorOf(res)).toMatchObject({ status: 403, code: 'FORBIDDEN' });
      expect(res.headers.get('location')).toBeNull();
      await assertVictimUnchanged();
    });
  }

  it('PATCH /files/:id, as JSON or with new bytes: 403', async () => {
    const json = await api(`/files/${victim.id}`, { method: 'PATCH', token: uploadToken, headers: { 'content-type': 'application/json' }, body: '{"access":"public"}' });
    expect(await errorOf(json)).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    const body = new FormData();
    body.append('access', 'public');
    body.append('file', new File([html], 'x.html', { type: 'text/html' }));
    expect(await errorOf(await api(`/files/${victim.id}`, { method: 'PATCH', token: uploadToken, body }))).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    await assertVictimUnchanged();
  });

  for (const field of ['id', 'private_hash', 'uploaded_by', 'checksum', 'filename_disk']) {
    it(`POST /files refuses the field ${field}: it is the server's`, async () => {
      const body = new FormData();
      body.append(field, field === 'id' ? victim.id : 'x');
      body.append('file', new File([html], 'x.html', { type: 'text/html' }));
      const error = await errorOf(await api('/files', { method: 'POST', token: uploadToken, body }));
      expect(error).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD', message: `Field "${field}" is read-only.` });
      await assertVictimUnchanged();
    });
  }

  it('a read token cannot upload through any route', async () => {
    expect((await tusCreate(readToken, { filename: 'x' })).status).toBe(403);
    const body = new FormData();
    body.append('file', new File(['x'], 'x.txt'));
    expect((await api('/files', { method: 'POST', token: readToken, body })).status).toBe(403);
  });
});

describe('an upload token sets the fields of the files it creates', () => {
  it('access private through TUS, multipart fields and import alike', async () => {
    const tus = await tusCreate(uploadToken, { filename: 'mine.txt', access: 'private', title: 'Mine' }, 'mine');
    expect(tus.status, await tus.clone().text()).toBe(201);
    const created = ((await (await api(`/files/${tus.headers.get('directus-file-id')}`)).json()) as { data: FileJson }).data;
    expect(created).toMatchObject({ access: 'private', title: 'Mine', filename_download: 'mine.txt' });

    const body = new FormData();
    body.append('access', 'private');
    body.append('file', new File(['mine'], 'mine.txt'));
    const rest = await api('/files', { method: 'POST', token: uploadToken, body });
    expect(rest.status).toBe(200);
    expect(((await rest.json()) as { data: FileJson }).data.access).toBe('private');
  });

  it('the admin scope may replace through TUS, as through PATCH', async () => {
    const target = await uploadFile({ name: 'replace-me.txt', data: 'old' });
    const res = await tusCreate('test-admin-token-0123456789', { filename: 'replace-me.txt', id: target.id }, 'new bytes');
    expect(res.status, await res.clone().text()).toBe(201);
    expect(res.headers.get('directus-file-id')).toBe(target.id);
    expect(await (await api(`/assets/${target.id}`)).text()).toBe('new bytes');
  });
});
