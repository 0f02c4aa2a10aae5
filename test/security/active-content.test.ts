import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, type FileJson, newToken, tusMetadata, uploadFile } from '../helpers';

/**
 * A declared type is stored only when it is a well-formed `type/subtype`, and `/assets` sends the
 * sandboxing Content-Security-Policy unless the type is on an allow-list of passive types: a hostile
 * upload cannot run script on this origin, whatever it calls itself.
 */
const page = '<html><body><script>fetch("/files",{headers:{authorization:localStorage.t}})</script></body></html>';
let uploadToken: string;

beforeAll(async () => {
  uploadToken = (await newToken('upload')).token;
});

async function served(id: string) {
  const res = await api(`/assets/${id}`, { token: null });
  await res.arrayBuffer();
  return { type: res.headers.get('content-type'), csp: res.headers.get('content-security-policy'), nosniff: res.headers.get('x-content-type-options') };
}

async function viaTus(filetype: string): Promise<FileJson> {
  const body = new TextEncoder().encode(page);
  const res = await api('/files/tus', {
    method: 'POST',
    token: uploadToken,
    headers: {
      'tus-resumable': '1.0.0',
      'content-type': 'application/offset+octet-stream',
      'upload-length': String(body.byteLength),
      'upload-metadata': tusMetadata({ filename: 'page.html', filetype }),
    },
    body,
  });
  expect(res.status, await res.clone().text()).toBe(201);
  return ((await (await api(`/files/${res.headers.get('directus-file-id')}`)).json()) as { data: FileJson }).data;
}

describe('declared types are taken only when well-formed', () => {
  const malformed = ['text/html,', 'text/html x', 'text/html,text/plain', 'text/', '/html', 'text/html\u0000', 'text html', 'text/html/x'];
  for (const filetype of malformed) {
    it(`TUS filetype ${JSON.stringify(filetype)} is dropped: the bytes decide, and the answer is sandboxed`, async () => {
      const file = await viaTus(filetype);
      expect(file.type).toBe('text/plain');
      expect(await served(file.id)).toMatchObject({ type: 'text/plain', csp: expect.stringContaining('sandbox'), nosniff: 'nosniff' });
    });
  }

  for (const declared of ['text/xsl', 'application/xslt+xml', 'text/xml', 'TEXT/HTML', 'text/html; charset=utf-8', 'application/x-shockwave-flash', 'message/rfc822', 'application/vnd.example']) {
    it(`a multipart part typed ${declared} is stored as that type and served sandboxed`, async () => {
      const file = await uploadFile({ name: 'page.bin', data: page, type: declared });
      expect(file.type).toBe(declared.split(';')[0]?.toLowerCase());
      expect((await served(file.id)).csp).toContain('sandbox');
    });
  }
});

describe('only passive types go without the sandbox', () => {
  const passive: [string, string][] = [
    ['image/png', 'not really a png'],
    ['video/mp4', 'not really a video'],
    ['audio/mpeg', 'not really audio'],
    ['application/pdf', 'not really a pdf'],
    ['font/woff2', 'not really a font'],
  ];
  for (const [declared, bytes] of passive) {
    it(`${declared} (with nosniff) has no CSP`, async () => {
      const file = await uploadFile({ name: 'x.bin', data: new Uint8Array([0, 1, 2, ...new TextEncoder().encode(bytes)]), type: declared });
      expect(await served(file.id)).toMatchObject({ type: declared, csp: null, nosniff: 'nosniff' });
    });
  }

  it('SVG and other +xml images are sandboxed', async () => {
    const svg = await uploadFile({ name: 'x.svg', data: '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>' });
    expect(await served(svg.id)).toMatchObject({ type: 'image/svg+xml', csp: expect.stringContaining('sandbox') });
    const other = await uploadFile({ name: 'x.bin', data: 'x', type: 'image/x-custom+xml' });
    expect((await served(other.id)).csp).toContain('sandbox');
  });

  it('a malformed type stored before these rules is served as application/octet-stream, sandboxed', async () => {
    const file = await uploadFile({ name: 'old.html', data: page, type: 'text/html' });
    await env.DB.prepare('UPDATE files SET type = ? WHERE id = ?').bind('text/html,', file.id).run();
    expect(await served(file.id)).toMatchObject({ type: 'application/octet-stream', csp: expect.stringContaining('sandbox') });
  });
});
