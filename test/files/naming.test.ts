import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { nameStem, NAME_STEM_MAX } from '../../src/files/naming';
import { api, errorOf, type FileJson, fixture, form, testClient, tusMetadata } from '../helpers';
import { stubImportSources } from './import-sources';

/** File Naming (`file_naming`): keys from the upload's name, made safe, on every upload path. */

const client = testClient();
const json = { 'content-type': 'application/json' };
const TUS = { 'tus-resumable': '1.0.0' };
/** Names are unique per run: the bucket is shared with the other test files. */
const r = () => crypto.randomUUID().slice(0, 8);

const setNaming = (file_naming: string) => api('/settings', { method: 'PATCH', headers: json, body: JSON.stringify({ file_naming }) });

async function upload(name: string, data: Uint8Array | string, type = 'application/octet-stream'): Promise<FileJson> {
  const res = await api('/files', { method: 'POST', body: form([{ name, data, type }]) });
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { data: FileJson }).data;
}

async function storedText(key: string): Promise<string | undefined> {
  const bytes = await client.readBytes(key);
  return bytes ? new TextDecoder().decode(bytes) : undefined;
}

async function servedText(id: string): Promise<string> {
  const res = await api(`/assets/${id}`);
  expect(res.status).toBe(200);
  return res.text();
}

describe('nameStem', () => {
  it('makes a safe stem of hostile names, never a path', () => {
    expect(nameStem('../x.txt')).toBe('x');
    expect(nameStem('..\\x.txt')).toBe('x');
    expect(nameStem('a/../../etc/passwd')).toBe('passwd');
    expect(nameStem('/')).toBe('');
    expect(nameStem('.')).toBe('');
    expect(nameStem('..')).toBe('');
    expect(nameStem('....')).toBe('');
    expect(nameStem('')).toBe('');
    expect(nameStem('a\u0000b\u0001c\r\n.txt')).toBe('a-b-c');
    expect(nameStem('.bashrc')).toBe('bashrc');
    expect(nameStem('My Photo  (1).JPG')).toBe('my-photo-1');
  });

  it('transliterates unicode to ASCII and drops what has none', () => {
    expect(nameStem('Crème Brûlée.jpg')).toBe('creme-brulee');
    expect(nameStem('Straße Ærø Łódź.png')).toBe('strasse-aero-lodz');
    expect(nameStem('ｆｕｌｌ.png')).toBe('full');
    expect(nameStem('日本語.png')).toBe('');
    expect(nameStem('photo-日本.png')).toBe('photo');
    expect(nameStem('\u202egpj.exe')).toBe('gpj');
  });

  it('never gives a Windows device name', () => {
    for (const name of ['con.txt', 'CON', 'nul.jpg', 'Aux.png', 'prn', 'com1.txt', 'LPT9.doc', 'com¹.txt']) expect(nameStem(name)).toMatch(/^[a-z]+[0-9]?-file$/);
    expect(nameStem('console.txt')).toBe('console');
  });

  it(`bounds the stem to ${NAME_STEM_MAX} characters`, () => {
    const stem = nameStem(`${'a'.repeat(299)}.txt`);
    expect(stem).toBe('a'.repeat(NAME_STEM_MAX));
    expect(nameStem(`${'a'.repeat(99)} bcd.txt`)).toBe('a'.repeat(99));
  });
});

describe('the file_naming setting', () => {
  it('is uuid by default, may be original, and refuses anything else', async () => {
    expect(((await (await api('/settings')).json()) as { data: { file_naming: string } }).data.file_naming).toBe('uuid');
    const bad = await errorOf(await setNaming('slug'));
    expect(bad).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
    expect(bad.message).toContain('"file_naming"');
    const readToken = await api('/settings', { method: 'PATCH', headers: json, body: '{"file_naming":"original"}', token: null });
    expect(readToken.status).toBe(401);
  });

  it('under uuid, keys are <id>.<ext> whatever the name', async () => {
    const file = await upload(`../uuid-${r()}.txt`, 'uuid bytes', 'text/plain');
    expect(file.filename_disk).toBe(`${file.id}.txt`);
  });
});

describe('File Naming original', () => {
  beforeAll(async () => {
    expect((await setNaming('original')).status).toBe(200);
  });
  afterAll(async () => {
    await setNaming('uuid');
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('keys a POST /files upload by its name, made safe, with the sniffed extension', async () => {
    const id = r();
    const traversal = await upload(`../x-${id}.txt`, 'traversal', 'text/plain');
    expect(traversal.filename_disk).toBe(`x-${id}.txt`);
    expect(await storedText(`x-${id}.txt`)).toBe('traversal');
    expect(await servedText(traversal.id)).toBe('traversal');

    const backslash = await upload(`..\\..\\bs-${id}.txt`, 'backslash', 'text/plain');
    expect(backslash.filename_disk).toBe(`bs-${id}.txt`);

    // A PNG named .php is keyed .png: the extension is the bytes', never the client's.
    const png = await upload(`Évil Ünïcode ${id}.php`, fixture('alpha.png'), 'application/x-php');
    expect(png.filename_disk).toBe(`evil-unicode-${id}.png`);
    expect(png.type).toBe('image/png');

    const device = await upload(`con.txt`, 'device', 'text/plain');
    expect(device.filename_disk).toMatch(/^con-file(-[0-9a-f]+)?\.txt$/);

    const long = await upload(`${id}${'l'.repeat(300)}.txt`, 'long', 'text/plain');
    expect(long.filename_disk).toBe(`${`${id}${'l'.repeat(300)}`.slice(0, NAME_STEM_MAX)}.txt`);
  });

  it('takes the extension from the type, never from the name', async () => {
    const id = r();
    // Text declared as PHP: no type this service can be sure of, so no extension at all.
    const php = await upload(`shell-${id}.php`, '<?php echo 1;', 'application/x-php');
    expect(php.filename_disk).toBe(`shell-${id}`);
    const text = await upload(`notes-${id}.php`, 'plain words', 'text/plain');
    expect(text.filename_disk).toBe(`notes-${id}.txt`);
  });

  it('keeps the uuid key when the name leaves nothing (empty, dots, only unicode)', async () => {
    // As under uuid: `<id>.<ext>`, the extension as an id's key has it.
    for (const [name, ext] of [['...', ''], ['日本語.txt', '.txt'], ['.', '']]) {
      const file = await upload(name as string, 'nameless', 'text/plain');
      expect(file.filename_disk, name).toBe(`${file.id}${ext}`);
    }
  });

  it('adds a suffix when the key is taken by a record or by an object of another program', async () => {
    const id = r();
    const first = await upload(`dup-${id}.txt`, 'first', 'text/plain');
    const second = await upload(`dup-${id}.txt`, 'second', 'text/plain');
    expect([first.filename_disk, second.filename_disk]).toEqual([`dup-${id}.txt`, `dup-${id}-2.txt`]);
    expect(await servedText(first.id)).toBe('first');
    expect(await servedText(second.id)).toBe('second');

    // No record points to it, and no upload claimed it: another program's object is never overwritten.
    await client.putObject(`foreign-${id}.txt`, new TextEncoder().encode('not ours'), { contentType: 'text/plain' });
    const third = await upload(`foreign-${id}.txt`, 'ours', 'text/plain');
    expect(third.filename_disk).toBe(`foreign-${id}-2.txt`);
    expect(await storedText(`foreign-${id}.txt`)).toBe('not ours');
  });

  it('never gives two concurrent uploads of one name the same key', async () => {
    const id = r();
    const bodies = Array.from({ length: 8 }, (_, i) => `race body ${i}`);
    const files = await Promise.all(bodies.map((b) => upload(`race-${id}.txt`, b, 'text/plain')));
    const keys = files.map((f) => f.filename_disk);
    expect(new Set(keys).size).toBe(files.length);
    for (const key of keys) expect(key).toMatch(new RegExp(`^race-${id}(-[0-9a-f]+)?\\.txt$`));
    for (const [i, f] of files.entries()) {
      expect(await servedText(f.id)).toBe(bodies[i]);
      expect(await storedText(f.filename_disk)).toBe(bodies[i]);
    }
  });

  it('keys an import by the name the source gives', async () => {
    const id = r();
    stubImportSources('files.example.com', () => new Response('imported', { headers: { 'content-type': 'text/plain' } }));
    const res = await api('/files/import', { method: 'POST', headers: json, body: JSON.stringify({ url: `https://files.example.com/dir/..%2F..%2FImp%C3%B6rt-${id}.txt` }) });
    expect(res.status, await res.clone().text()).toBe(200);
    const file = ((await res.json()) as { data: FileJson }).data;
    expect(file.filename_disk).toBe(`import-${id}.txt`);
    expect(await storedText(file.filename_disk)).toBe('imported');
  });

  it("keys a replacement by the new upload's name; the old key goes", async () => {
    const id = r();
    const file = await upload(`before-${id}.txt`, 'before', 'text/plain');
    const replaced = await api(`/files/${file.id}`, { method: 'PATCH', body: form([{ name: `After ${id}.png`, data: fixture('alpha.png'), type: 'image/png' }]) });
    expect(replaced.status, await replaced.clone().text()).toBe(200);
    const after = ((await replaced.json()) as { data: FileJson }).data;
    expect(after.filename_disk).toBe(`after-${id}.png`);
    expect(await client.headObject(`before-${id}.txt`)).toBeNull();

    // The same name again: the key in use is not overwritten (the new bytes go beside it).
    const again = await api(`/files/${file.id}`, { method: 'PATCH', body: form([{ name: `after-${id}.png`, data: fixture('alpha.png'), type: 'image/png' }]) });
    const second = ((await again.json()) as { data: FileJson }).data;
    expect(second.filename_disk).toBe(`after-${id}-2.png`);
    expect(await client.headObject(`after-${id}.png`)).toBeNull();
  });

  it('keys a TUS upload by its filename metadata (NUL and controls included)', async () => {
    const id = r();
    const body = new TextEncoder().encode('tus bytes');
    const created = await api('/files/tus', {
      method: 'POST',
      headers: { ...TUS, 'upload-length': String(body.byteLength), 'upload-metadata': tusMetadata({ filename: `../t\u0000u\u0007s-${id}.txt`, filetype: 'text/plain' }) },
    });
    expect(created.status).toBe(201);
    const path = new URL(created.headers.get('location') ?? '').pathname;
    const done = await api(path, { method: 'PATCH', headers: { ...TUS, 'content-type': 'application/offset+octet-stream', 'upload-offset': '0' }, body });
    expect(done.status).toBe(204);
    const file = ((await (await api(`/files/${done.headers.get('directus-file-id')}`)).json()) as { data: FileJson }).data;
    expect(file.filename_disk).toBe(`t-u-s-${id}.txt`);
    expect(await servedText(file.id)).toBe('tus bytes');
  });
});
