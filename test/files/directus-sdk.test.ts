import { createDirectus, deleteFile, importFile, readFile, readFiles, rest, staticToken, updateFile, uploadFiles } from '@directus/sdk';
import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, bytes, sha256 } from '../helpers';

/** The official Directus SDK, its requests routed into the Worker under test. */
function sdk(token = ADMIN_TOKEN) {
  const fetchWorker = (input: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(new Request(input, init));
  return createDirectus('http://assets.test', { globals: { fetch: fetchWorker as typeof fetch } })
    .with(staticToken(token))
    .with(rest());
}

describe('@directus/sdk against the Worker', () => {
  const client = sdk();
  const tag = `sdk-${crypto.randomUUID().slice(0, 8)}`;

  it('uploadFiles, readFile, readFiles, updateFile, deleteFile', async () => {
    const data = bytes(3000, 51);
    const form = new FormData();
    form.append('title', 'From the SDK');
    form.append('tags', JSON.stringify([tag]));
    form.append('file', new File([data], 'sdk.bin', { type: 'application/octet-stream' }));
    const uploaded = await client.request(uploadFiles(form));
    expect(uploaded).toMatchObject({ title: 'From the SDK', filename_download: 'sdk.bin', filesize: '3000', tags: [tag] });

    const read = await client.request(readFile(uploaded.id, { fields: ['id', 'title', 'filesize'] }));
    expect(read).toEqual({ id: uploaded.id, title: 'From the SDK', filesize: '3000' });

    const listed = await client.request(readFiles({ filter: { tags: { _contains: tag } }, sort: ['-created_on'], limit: 10 }));
    expect(listed.map((f) => f.id)).toEqual([uploaded.id]);

    const updated = await client.request(updateFile(uploaded.id, { title: 'Renamed', description: 'via sdk' }));
    expect(updated).toMatchObject({ title: 'Renamed', description: 'via sdk' });

    const asset = await exports.default.fetch(`http://assets.test/assets/${uploaded.id}`);
    expect(await sha256(new Uint8Array(await asset.arrayBuffer()))).toBe(await sha256(data));

    await client.request(deleteFile(uploaded.id));
    await expect(client.request(readFile(uploaded.id))).rejects.toMatchObject({ errors: [{ extensions: { code: 'NOT_FOUND' } }] });
  });

  it('surfaces our error envelope to SDK users', async () => {
    await expect(sdk('wrong-token-000000000000').request(readFiles())).rejects.toMatchObject({
      errors: [{ extensions: { code: 'INVALID_CREDENTIALS' } }],
      response: { status: 401 },
    });
    await expect(client.request(importFile('http://127.0.0.1/secret'))).rejects.toMatchObject({
      errors: [{ extensions: { code: 'INVALID_PAYLOAD' } }],
    });
  });
});
