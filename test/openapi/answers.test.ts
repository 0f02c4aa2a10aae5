import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, api, fixture, form, newToken, tusMetadata } from '../helpers';
import { DirectClient } from '../direct/direct-client';
import { conforms } from './conformance';

// The webhook made below points at the test receiver (paused: nothing is delivered to it).
env.IMPORT_IP_ALLOW_LIST = '127.0.0.1/32';

const json = (method: string, body: unknown, token?: string | null): RequestInit & { token?: string | null } => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
  ...(token === undefined ? {} : { token }),
});

async function upload(): Promise<{ id: string }> {
  const res = await api('/files', { method: 'POST', body: form([{ name: 'oas.png', data: fixture('alpha.png'), type: 'image/png' }], { title: 'OpenAPI' }) });
  return ((await conforms(res, 'POST', '/files')) as { data: { id: string } }).data;
}

describe('live answers conform to the OpenAPI document', () => {
  it('server', async () => {
    await conforms(await api('/server/health', { token: null }), 'GET', '/server/health');
    expect(await conforms(await api('/server/ping', { token: null }), 'GET', '/server/ping')).toBe('pong');
    await conforms(await api('/server/info', { token: null }), 'GET', '/server/info');
    await conforms(await api('/server/info'), 'GET', '/server/info');
    await conforms(await api('/server/specs/oas', { token: null }), 'GET', '/server/specs/oas');
  });

  it('files: each answer, successes and errors', async () => {
    const { id } = await upload();
    const path = '/files/{id}';
    await conforms(await api('/files?limit=5&meta=*'), 'GET', '/files');
    await conforms(await api('/files?fields=id,title,folder.*&limit=2'), 'GET', '/files');
    await conforms(await api('/files?aggregate[count]=*&groupBy=type'), 'GET', '/files');
    await conforms(await api(`/files/${id}`), 'GET', path);
    await conforms(await api(`/files/${id}?fields=id,filesize`), 'GET', path);
    await conforms(await api(`/files/${id}`, json('PATCH', { title: 'Changed', tags: ['a'] })), 'PATCH', path);
    await conforms(await api('/files', json('PATCH', { keys: [id], data: { description: 'batch' } })), 'PATCH', '/files');
    await conforms(await api(`/files/${id}/rotate-hash`, { method: 'POST' }), 'POST', '/files/{id}/rotate-hash');
    await conforms(await api(`/files/${id}/sign?expires_in=60&width=10`), 'GET', '/files/{id}/sign');
    await conforms(await api(`/files/${id}`, { method: 'PATCH', body: form([{ name: 'again.png', data: fixture('alpha.png'), type: 'image/png' }]) }), 'PATCH', path);
    const asset = await api(`/assets/${id}`, { token: null });
    expect(asset.headers.get('content-type')).toBe('image/png');
    await conforms(asset, 'GET', '/assets/{id}');

    await conforms(await api('/files', { token: null }), 'GET', '/files');
    await conforms(await api(`/files/${crypto.randomUUID()}`), 'GET', path);
    await conforms(await api(`/files/${id}`, json('PATCH', { nope: 1 })), 'PATCH', path);
    await conforms(await api(`/files/${id}`, json('PATCH', { title: 'x' }, (await newToken('read')).token)), 'PATCH', path);
    await conforms(await api('/files/import', json('POST', { data: {} })), 'POST', '/files/import');
    await conforms(await api(`/assets/${crypto.randomUUID()}`, { token: null }), 'GET', '/assets/{id}');
    await conforms(await api('/files?filter={bad'), 'GET', '/files');

    await conforms(await api(`/files/${id}`, { method: 'DELETE' }), 'DELETE', path);
    const second = await upload();
    await conforms(await api('/files', json('DELETE', [second.id])), 'DELETE', '/files');
    await conforms(await api('/files', json('DELETE', [second.id])), 'DELETE', '/files');
  });

  it('folders', async () => {
    const parent = ((await conforms(await api('/folders', json('POST', { name: `oas-${crypto.randomUUID().slice(0, 6)}` })), 'POST', '/folders')) as { data: { id: string } }).data;
    const child = ((await conforms(await api('/folders', json('POST', { name: 'child', parent: parent.id })), 'POST', '/folders')) as { data: { id: string } }).data;
    await conforms(await api('/folders?limit=3&meta=total_count'), 'GET', '/folders');
    await conforms(await api(`/folders/${child.id}?fields=id,parent.*`), 'GET', '/folders/{id}');
    await conforms(await api(`/folders/${child.id}`, json('PATCH', { name: 'renamed' })), 'PATCH', '/folders/{id}');
    await conforms(await api('/folders', json('POST', {})), 'POST', '/folders');
    await conforms(await api(`/folders/${crypto.randomUUID()}`), 'GET', '/folders/{id}');
    await conforms(await api(`/folders/${child.id}`, { method: 'DELETE' }), 'DELETE', '/folders/{id}');
    await conforms(await api('/folders', json('DELETE', { keys: [parent.id] })), 'DELETE', '/folders');
  });

  it('settings and tokens', async () => {
    const current = ((await conforms(await api('/settings'), 'GET', '/settings')) as { data: { file_naming: string } }).data;
    await conforms(await api('/settings', json('PATCH', { file_naming: current.file_naming })), 'PATCH', '/settings');
    await conforms(await api('/settings', json('PATCH', { storage_asset_transform: 'some' })), 'PATCH', '/settings');

    const read = await newToken('read');
    await conforms(await api('/tokens/me', { token: read.token }), 'GET', '/tokens/me');
    await conforms(await api('/tokens'), 'GET', '/tokens');
    const made = ((await conforms(await api('/tokens', json('POST', { name: 'oas', scope: 'upload' })), 'POST', '/tokens')) as { data: { id: string } }).data;
    await conforms(await api('/tokens', json('POST', { name: 'oas', scope: 'root' })), 'POST', '/tokens');
    await conforms(await api('/tokens', { token: read.token }), 'GET', '/tokens');
    await conforms(await api(`/tokens/${made.id}`, { method: 'DELETE' }), 'DELETE', '/tokens/{id}');
    await conforms(await api('/tokens/me', { token: 'not-a-token' }), 'GET', '/tokens/me');
  });

  it('webhooks', async () => {
    const body = { url: 'http://127.0.0.1:7670/hooks/oas', events: ['files.upload'], paused: true };
    const made = ((await conforms(await api('/webhooks', json('POST', body)), 'POST', '/webhooks')) as { data: { id: string } }).data;
    await conforms(await api('/webhooks'), 'GET', '/webhooks');
    await conforms(await api(`/webhooks/${made.id}`), 'GET', '/webhooks/{id}');
    await conforms(await api(`/webhooks/${made.id}`, json('PATCH', { events: ['files.delete'] })), 'PATCH', '/webhooks/{id}');
    await conforms(await api(`/webhooks/${made.id}/attempts`), 'GET', '/webhooks/{id}/attempts');
    await conforms(await api('/webhooks', json('POST', { ...body, secret: 'mine' })), 'POST', '/webhooks');
    await conforms(await api('/webhooks', { token: (await newToken('upload')).token }), 'GET', '/webhooks');
    await conforms(await api(`/webhooks/${crypto.randomUUID()}`), 'GET', '/webhooks/{id}');
    await conforms(await api(`/webhooks/${made.id}`, { method: 'DELETE' }), 'DELETE', '/webhooks/{id}');
    await conforms(await api('/webhooks', json('DELETE', [made.id])), 'DELETE', '/webhooks');
  });

  it('TUS', async () => {
    const tus = { 'tus-resumable': '1.0.0' };
    await conforms(await api('/files/tus', { method: 'OPTIONS', token: null }), 'OPTIONS', '/files/tus/{path}');
    const data = fixture('alpha.png');
    const created = await api('/files/tus', { method: 'POST', headers: { ...tus, 'upload-length': String(data.byteLength), 'upload-metadata': tusMetadata({ filename: 'oas.png' }) } });
    await conforms(created.clone(), 'POST', '/files/tus');
    const location = new URL(created.headers.get('location') ?? '').pathname;
    await conforms(await api(location, { method: 'HEAD', headers: tus }), 'HEAD', '/files/tus/{id}');
    await conforms(await api(location, { method: 'PATCH', headers: { ...tus, 'upload-offset': '1', 'content-type': 'application/offset+octet-stream' }, body: data }), 'PATCH', '/files/tus/{id}');
    await conforms(await api(location, { method: 'PATCH', headers: { ...tus, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }, body: data }), 'PATCH', '/files/tus/{id}');
    await conforms(await api(location, { method: 'HEAD' }), 'HEAD', '/files/tus/{id}');
    await conforms(await api('/files/tus', { method: 'POST', headers: { ...tus } }), 'POST', '/files/tus');
    const other = await api('/files/tus', { method: 'POST', headers: { ...tus, 'upload-length': '10' } });
    await conforms(await api(new URL(other.headers.get('location') ?? '').pathname, { method: 'DELETE', headers: tus }), 'DELETE', '/files/tus/{id}');
  });

  it('direct-to-bucket uploads', async () => {
    const client = new DirectClient(ADMIN_TOKEN);
    const started = (await conforms(await client.call('/multipart', { method: 'POST', body: JSON.stringify({ filename: 'oas.bin', type: 'application/octet-stream', metadata: { title: 'direct' } }) }), 'POST', '/files/s3/multipart')) as { key: string; uploadId: string };
    await conforms(await client.sign(started, 1), 'GET', '/files/s3/multipart/{uploadId}/{partNumber}');
    await conforms(await client.sign(started, 0), 'GET', '/files/s3/multipart/{uploadId}/{partNumber}');
    await conforms(await client.complete(started, []), 'POST', '/files/s3/multipart/{uploadId}/complete');
    await conforms(await client.call('/params'), 'GET', '/files/s3/params');
    await conforms(await client.abort(started), 'DELETE', '/files/s3/multipart/{uploadId}');
    await conforms(await new DirectClient(null).call('/multipart', { method: 'POST', body: '{}' }), 'POST', '/files/s3/multipart');
  });
});
