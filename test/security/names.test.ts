import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { cleanName } from '../../src/files/fields';
import { api, errorOf, type FileJson, form, tusMetadata, uploadFile } from '../helpers';

/**
 * Names (folder names, titles, download names, tags, locations) hold no control characters and no
 * bidirectional formatting characters: `invoice\u202Eexe.pdf` displays as `invoicefdp.exe`. A name
 * a client sets is refused with a 400 naming the character; a name that came with the bytes (a file
 * part's name, TUS `filename`) is stored without them; and a name stored before this rule is served
 * without them in Content-Disposition.
 */
const json = { 'content-type': 'application/json' };
const FORMS: [string, string][] = [
  ['RIGHT-TO-LEFT OVERRIDE', 'invoice\u202Egpj.exe'],
  ['LEFT-TO-RIGHT OVERRIDE', 'a\u202Db'],
  ['RIGHT-TO-LEFT EMBEDDING', 'a\u202Bb'],
  ['LEFT-TO-RIGHT ISOLATE', 'a\u2066b'],
  ['RIGHT-TO-LEFT ISOLATE', 'a\u2067b'],
  ['FIRST STRONG ISOLATE', 'a\u2068b'],
  ['POP DIRECTIONAL ISOLATE', 'a\u2069b'],
  ['LEFT-TO-RIGHT MARK', 'a\u200Eb'],
  ['RIGHT-TO-LEFT MARK', 'a\u200Fb'],
  ['ARABIC LETTER MARK', 'a\u061Cb'],
  ['NUL', 'a\u0000b'],
  ['line feed', 'a\nb'],
  ['carriage return', 'a\rb'],
  ['ESC (C0)', 'a\u001b[31mb'],
  ['DEL', 'a\u007fb'],
  ['NEXT LINE (C1)', 'a\u0085b'],
  ['CSI (C1)', 'a\u009bb'],
];
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const strip = (s: string) => s.replace(UNSAFE, '');
const codeOf = (s: string) => `U+${(s.match(UNSAFE)?.[0]?.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;

let file: FileJson;
beforeAll(async () => {
  file = await uploadFile({ name: 'plain.txt', data: 'plain', type: 'text/plain' });
});

describe('a name a client sets is refused with its character named', () => {
  for (const [what, name] of FORMS) {
    it(`${what}: folder name, on create and rename`, async () => {
      const created = await api('/folders', { method: 'POST', headers: json, body: JSON.stringify({ name }) });
      expect(await errorOf(created)).toEqual({ status: 400, code: 'INVALID_PAYLOAD', message: expect.stringContaining(codeOf(name)) });
      const ok = (await (await api('/folders', { method: 'POST', headers: json, body: JSON.stringify({ name: 'fine' }) })).json()) as { data: { id: string } };
      const renamed = await api(`/folders/${ok.data.id}`, { method: 'PATCH', headers: json, body: JSON.stringify({ name }) });
      expect(await errorOf(renamed)).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
      expect(((await (await api(`/folders/${ok.data.id}`)).json()) as { data: { name: string } }).data.name).toBe('fine');
    });

    it(`${what}: title, filename_download, location and a tag, as form fields and JSON`, async () => {
      for (const field of ['title', 'filename_download', 'location', 'tags']) {
        const value = field === 'tags' ? JSON.stringify(['ok', name]) : name;
        const upload = await api('/files', { method: 'POST', body: form([{ name: 'a.txt', data: 'a', type: 'text/plain' }], { [field]: value }) });
        expect(await errorOf(upload), field).toEqual({ status: 400, code: 'INVALID_PAYLOAD', message: expect.stringContaining(codeOf(name)) });
        const patched = await api(`/files/${file.id}`, { method: 'PATCH', headers: json, body: JSON.stringify({ [field]: field === 'tags' ? ['ok', name] : name }) });
        expect(await errorOf(patched), field).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
        const tus = await api('/files/tus', {
          method: 'POST',
          headers: { 'tus-resumable': '1.0.0', 'upload-length': '1', 'upload-metadata': tusMetadata({ filename: 'a.txt', [field]: value }) },
        });
        expect(tus.status, field).toBe(400);
      }
      const record = ((await (await api(`/files/${file.id}`)).json()) as { data: FileJson }).data;
      expect(record).toMatchObject({ title: file.title, filename_download: 'plain.txt', location: null, tags: null });
    });
  }

  it('a token name (which becomes uploaded_by) is refused with any of them', async () => {
    for (const [, name] of FORMS) {
      const res = await api('/tokens', { method: 'POST', headers: json, body: JSON.stringify({ name, scope: 'upload' }) });
      expect(await errorOf(res)).toEqual({ status: 400, code: 'INVALID_PAYLOAD', message: expect.stringContaining(codeOf(name)) });
    }
  });

  it('a description keeps tabs, line breaks and bidi marks, but not NUL or other controls', async () => {
    const text = 'line one\r\n\tline two \u200F\u05E9\u05DC\u05D5\u05DD';
    const ok = await api(`/files/${file.id}`, { method: 'PATCH', headers: json, body: JSON.stringify({ description: text }) });
    expect(((await ok.json()) as { data: FileJson }).data.description).toBe(text);
    for (const bad of ['a\u0000b', 'a\u001bb', 'a\u0085b']) {
      const res = await api(`/files/${file.id}`, { method: 'PATCH', headers: json, body: JSON.stringify({ description: bad }) });
      expect(await errorOf(res)).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD', message: expect.stringContaining(codeOf(bad)) });
    }
  });

  it('right-to-left names without formatting characters are fine', async () => {
    const stored = await uploadFile({ name: 'a.txt', data: 'a', type: 'text/plain' }, { title: '\u05E9\u05DC\u05D5\u05DD', filename_download: '\u0645\u0644\u0641.txt' });
    expect(stored).toMatchObject({ title: '\u05E9\u05DC\u05D5\u05DD', filename_download: '\u0645\u0644\u0641.txt' });
  });
});

describe('a name that came with the bytes is stored without those characters', () => {
  it('cleanName strips, and cuts a long name to 255 bytes on a character boundary in one pass', () => {
    expect(cleanName(' a\u202Eb\u0000c ')).toBe('abc');
    const cut = cleanName('é'.repeat(200_000));
    expect(cut).toBe('é'.repeat(127));
    expect(cleanName(`${'x'.repeat(254)}€`)).toBe('x'.repeat(254));
  });

  it('a multipart file part named with U+202E and controls', async () => {
    const stored = await uploadFile({ name: 'invoice\u202Egpj\u2066.\u0085exe', data: 'a', type: 'text/plain' });
    expect(stored.filename_download).toBe('invoicegpj.exe');
    expect(strip(stored.title ?? '')).toBe(stored.title);
  });

  it('a TUS upload whose filename carries an isolate and a C1 control', async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const res = await api('/files/tus', {
      method: 'POST',
      headers: { 'tus-resumable': '1.0.0', 'content-type': 'application/offset+octet-stream', 'upload-length': '1', 'upload-metadata': tusMetadata({ filename: `${tag}\u2067b\u0085c.txt` }) },
      body: 'x',
    });
    expect(res.status).toBe(201);
    const list = (await (await api(`/files?filter[filename_download][_starts_with]=${tag}`)).json()) as { data: FileJson[] };
    expect(list.data.map((f) => f.filename_download)).toEqual([`${tag}bc.txt`]);
  });
});

describe('Content-Disposition never carries them, even for a name stored before the rule', () => {
  for (const [what, name] of FORMS) {
    it(what, async () => {
      const old = await uploadFile({ name: 'old.txt', data: 'old', type: 'text/plain' });
      await env.DB.prepare('UPDATE files SET filename_download = ? WHERE id = ?').bind(`x${name}.txt`, old.id).run();
      for (const path of [`/assets/${old.id}`, `/assets/${old.id}?download`]) {
        const header = (await api(path)).headers.get('content-disposition') ?? '';
        const decoded = decodeURIComponent(/filename\*=UTF-8''(.*)$/.exec(header)?.[1] ?? '');
        expect(decoded).toBe(`x${strip(name)}.txt`);
        expect(header).not.toMatch(/%E2%80%8[EF]|%E2%80%A[A-E]|%E2%81%A[6-9]|%D8%9C|%C2%[89]|[\u0000-\u001f]/);
      }
    });
  }
});
