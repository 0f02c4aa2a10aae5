import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { api, bytes, errorOf, type FileJson, fixture, sha256, testClient, tusMetadata, uploadFile } from '../helpers';

const MiB = 1024 * 1024;
const TUS = { 'tus-resumable': '1.0.0' };
const OCTETS = { 'content-type': 'application/offset+octet-stream' };
const client = testClient();

const metadata = tusMetadata;

async function create(headers: Record<string, string>, body?: BodyInit): Promise<{ res: Response; url: string; path: string }> {
  const res = await api('/files/tus', { method: 'POST', headers: { ...TUS, ...headers }, ...(body === undefined ? {} : { body }) });
  const url = res.headers.get('location') ?? '';
  return { res, url, path: new URL(url || 'http://x/').pathname };
}

function patch(path: string, offset: number, body: BodyInit, headers: Record<string, string> = {}) {
  return api(path, { method: 'PATCH', headers: { ...TUS, ...OCTETS, 'upload-offset': String(offset), ...headers }, body });
}

const head = (path: string) => api(path, { method: 'HEAD', headers: TUS });
const stubOf = (path: string) => env.UPLOADS.get(env.UPLOADS.idFromString(path.split('/').pop() as string));

async function fileOf(res: Response): Promise<FileJson> {
  const id = res.headers.get('directus-file-id');
  expect(id).toMatch(/^[0-9a-f-]{36}$/);
  return ((await (await api(`/files/${id}`)).json()) as { data: FileJson }).data;
}

async function storedSha(file: FileJson): Promise<string> {
  const object = await client.getObject(file.filename_disk);
  return sha256(new Uint8Array(await new Response(object?.body ?? null).arrayBuffer()));
}

/** Sizes of the UploadPart requests sent to S3 (by URL), to prove the parts are equal. */
let partSizes: number[] = [];
beforeEach(() => {
  partSizes = [];
  const real = globalThis.fetch;
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const request = new Request(input as RequestInfo, init);
    const url = new URL(request.url);
    if (request.method === 'PUT' && url.searchParams.has('partNumber')) {
      const body = await request.arrayBuffer();
      partSizes.push(body.byteLength);
      return real(new Request(request, { body }));
    }
    return real(request);
  });
});
afterEach(() => vi.restoreAllMocks());

describe('discovery and core headers', () => {
  it('OPTIONS needs no token and advertises version, extensions, max size and checksums', async () => {
    const res = await api('/files/tus', { method: 'OPTIONS', token: null });
    expect(res.status).toBe(204);
    expect(res.headers.get('tus-resumable')).toBe('1.0.0');
    expect(res.headers.get('tus-version')).toBe('1.0.0');
    expect(res.headers.get('tus-extension')).toBe('creation,creation-with-upload,creation-defer-length,expiration,checksum,termination,concatenation');
    expect(Number(res.headers.get('tus-max-size'))).toBeGreaterThan(0);
    expect(res.headers.get('tus-checksum-algorithm')).toBe('sha1,md5,sha256');
  });

  it('a request without Tus-Resumable is a 412 naming the version', async () => {
    const res = await api('/files/tus', { method: 'POST', headers: { 'upload-length': '1' } });
    expect(res.status).toBe(412);
    expect(res.headers.get('tus-version')).toBe('1.0.0');
    expect(res.headers.get('tus-resumable')).toBe('1.0.0');
  });

  it('needs the token', async () => {
    const res = await api('/files/tus', { method: 'POST', token: null, headers: { ...TUS, 'upload-length': '1' } });
    expect(res.status).toBe(401);
  });

  it('refuses bad creation requests', async () => {
    expect((await create({})).res.status).toBe(400);
    expect((await create({ 'upload-length': '5', 'upload-defer-length': '1' })).res.status).toBe(400);
    expect((await create({ 'upload-length': '-1' })).res.status).toBe(400);
    expect((await create({ 'upload-length': String(21 * MiB) })).res.status).toBe(413);
    expect((await create({ 'upload-length': '5', 'upload-metadata': 'filename not*base64' })).res.status).toBe(400);
    expect((await create({ 'upload-length': '5', 'upload-metadata': 'a YQ==,a YQ==' })).res.status).toBe(400);
  });

  it('an unknown or malformed upload id is a 404', async () => {
    expect((await head('/files/tus/not-an-id')).status).toBe(404);
    const unknown = env.UPLOADS.newUniqueId().toString();
    expect((await head(`/files/tus/${unknown}`)).status).toBe(404);
  });
});

describe('uploading', () => {
  it('cuts equal parts whatever the PATCH sizes, and ends with the same record as POST /files', async () => {
    const data = bytes(12 * MiB + 12345, 71);
    const { res, url, path } = await create({
      'upload-length': String(data.byteLength),
      'upload-metadata': metadata({ filename: 'video clip.bin', filetype: 'application/octet-stream', title: 'From TUS', tags: '["tus"]' }),
    });
    expect(res.status).toBe(201);
    expect(url).toMatch(/^http:\/\/assets\.test\/files\/tus\/[0-9a-f]{64}$/);
    expect(res.headers.get('upload-expires')).toMatch(/GMT$/);

    let offset = 0;
    for (const size of [3 * MiB, 3 * MiB, 3 * MiB, 3 * MiB, 12345]) {
      const r = await patch(path, offset, data.slice(offset, offset + size));
      expect(r.status, await r.clone().text()).toBe(204);
      offset += size;
      expect(r.headers.get('upload-offset')).toBe(String(offset));
      const h = await head(path);
      expect(h.headers.get('upload-offset')).toBe(String(offset));
      expect(h.headers.get('upload-length')).toBe(String(data.byteLength));
      expect(h.headers.get('cache-control')).toBe('no-store');
      if (offset === data.byteLength) {
        const file = await fileOf(r);
        expect(file).toMatchObject({ title: 'From TUS', tags: ['tus'], filename_download: 'video clip.bin', filesize: String(data.byteLength), checksum: await sha256(data) });
        expect(await storedSha(file)).toBe(await sha256(data));
        expect(h.headers.get('directus-file-id')).toBe(file.id);
      }
    }
    // Every part but the last is exactly P = 5 MiB.
    expect(partSizes).toEqual([5 * MiB, 5 * MiB, 2 * MiB + 12345]);
  });

  it('an upload that fits in one part ends with a single PutObject; metadata is scraped', async () => {
    const jpeg = fixture('photo-meta.jpg');
    const { path } = await create({ 'upload-length': String(jpeg.byteLength), 'upload-metadata': metadata({ filename: 'p.jpg' }) });
    const r = await patch(path, 0, jpeg);
    const file = await fileOf(r);
    expect(file).toMatchObject({ type: 'image/jpeg', width: 64, height: 48, title: 'IPTC Headline', filename_disk: `${file.id}.jpg` });
    expect(partSizes).toEqual([]);
  });

  it('an empty upload creates an empty object at creation', async () => {
    const { res } = await create({ 'upload-length': '0', 'upload-metadata': metadata({ filename: 'empty.txt' }) });
    expect(res.status).toBe(201);
    const file = await fileOf(res);
    expect(file.filesize).toBe('0');
    expect((await client.headObject(file.filename_disk))?.size).toBe(0);
  });

  it('creation-with-upload', async () => {
    const data = bytes(1000, 72);
    const { res, path } = await create({ ...OCTETS, 'upload-length': '2000' }, data);
    expect(res.status).toBe(201);
    expect(res.headers.get('upload-offset')).toBe('1000');
    const r = await patch(path, 1000, bytes(1000, 73));
    expect((await fileOf(r)).filesize).toBe('2000');
  });

  it('deferred length: the last PATCH names it', async () => {
    const data = bytes(6 * MiB + 7, 74);
    const { res, path } = await create({ 'upload-defer-length': '1' });
    expect(res.status).toBe(201);
    expect((await head(path)).headers.get('upload-defer-length')).toBe('1');
    expect((await patch(path, 0, data.slice(0, 4 * MiB))).status).toBe(204);
    const last = await patch(path, 4 * MiB, data.slice(4 * MiB), { 'upload-length': String(data.byteLength) });
    expect(last.status).toBe(204);
    expect(await storedSha(await fileOf(last))).toBe(await sha256(data));
  });

  it('a deferred-length upload past 10,000 parts is a 413 that says how to fix it', async () => {
    const { path } = await create({ 'upload-defer-length': '1' });
    expect((await patch(path, 0, bytes(5 * MiB, 76))).status).toBe(204);
    // As if 10,000 parts were in (the test's FILES_MAX_UPLOAD_SIZE keeps the offset small): the
    // 10,001st is refused before anything is sent.
    await runInDurableObject(stubOf(path), (_, state) => {
      for (let n = 2; n <= 10_000; n++) state.storage.sql.exec('INSERT INTO parts (number, etag, size) VALUES (?, ?, ?)', n, '"x"', 5 * MiB);
    });
    const res = await patch(path, 5 * MiB, bytes(5 * MiB, 77));
    expect(res.status).toBe(413);
    expect((await errorOf(res)).message).toMatch(/more than 10000 parts .*Upload-Length.*TUS__CHUNK_SIZE/);
  });

  it('Directus metadata: id replaces a file only when the upload completes', async () => {
    const original = await uploadFile({ name: 'a.txt', data: 'original bytes' });
    const data = new TextEncoder().encode('replacement bytes!');
    const { path } = await create({ 'upload-length': String(data.byteLength), 'upload-metadata': metadata({ id: original.id, filename: 'b.txt' }) });
    await patch(path, 0, data.slice(0, 5));
    expect(await (await api(`/assets/${original.id}`)).text()).toBe('original bytes');
    const r = await patch(path, 5, data.slice(5));
    expect(r.headers.get('directus-file-id')).toBe(original.id);
    expect(await (await api(`/assets/${original.id}`)).text()).toBe('replacement bytes!');
  });
});

describe('errors keep what was stored', () => {
  it('409 on a wrong offset, 415 on a wrong content type, 413 past the length', async () => {
    const { path } = await create({ 'upload-length': '100' });
    expect((await patch(path, 0, bytes(10))).status).toBe(204);
    expect((await patch(path, 5, bytes(10))).status).toBe(409);
    const wrongType = await api(path, { method: 'PATCH', headers: { ...TUS, 'content-type': 'application/octet-stream', 'upload-offset': '10' }, body: bytes(5) });
    expect(wrongType.status).toBe(415);
    expect((await patch(path, 10, bytes(91))).status).toBe(413);
    expect((await head(path)).headers.get('upload-offset')).toBe('10');
  });

  it('checksum: 400 for an unknown algorithm, 460 on mismatch (bytes discarded), 204 when it matches', async () => {
    const { path } = await create({ 'upload-length': '6' });
    expect((await patch(path, 0, 'abc', { 'upload-checksum': 'crc32 AAAA' })).status).toBe(400);
    const mismatch = await patch(path, 0, 'abc', { 'upload-checksum': `sha1 ${btoa('x'.repeat(20))}` });
    expect(mismatch.status).toBe(460);
    expect((await head(path)).headers.get('upload-offset')).toBe('0');
    for (const [alg, name] of [['sha1', 'SHA-1'], ['sha256', 'SHA-256']] as const) {
      const offset = alg === 'sha1' ? 0 : 3;
      const part = alg === 'sha1' ? 'abc' : 'def';
      const digest = btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest(name, new TextEncoder().encode(part)))));
      expect((await patch(path, offset, part, { 'upload-checksum': `${alg} ${digest}` })).status).toBe(204);
    }
    expect((await head(path)).headers.get('upload-offset')).toBe('6');
  });

  it('a dropped connection keeps the bytes received, and the upload resumes from HEAD', async () => {
    const data = bytes(7 * MiB, 75);
    const { path } = await create({ 'upload-length': String(data.byteLength) });
    let sent = 0;
    const failing = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 6 * MiB) return controller.error(new Error('connection lost'));
        controller.enqueue(data.slice(sent, sent + MiB));
        sent += MiB;
      },
    });
    await patch(path, 0, failing).catch(() => undefined);
    const offset = Number((await head(path)).headers.get('upload-offset'));
    expect(offset).toBe(6 * MiB);
    const r = await patch(path, offset, data.slice(offset));
    expect(await storedSha(await fileOf(r))).toBe(await sha256(data));
  });

  it('a second PATCH while one runs gets 423 and cannot corrupt the upload', async () => {
    const data = bytes(2 * MiB, 76);
    const { path } = await create({ 'upload-length': String(data.byteLength) });
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let step = 0;
    const slow = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (step === 0) controller.enqueue(data.slice(0, MiB));
        else if (step === 1) {
          await gate;
          controller.enqueue(data.slice(MiB));
        } else controller.close();
        step++;
      },
    });
    const first = patch(path, 0, slow);
    await new Promise((r) => setTimeout(r, 100));
    const second = await patch(path, 0, data);
    expect(second.status).toBe(423);
    release();
    const done = await first;
    expect(done.status).toBe(204);
    expect(await storedSha(await fileOf(done))).toBe(await sha256(data));
  });
});

describe('durability, expiry, termination', () => {
  it('staged bytes survive eviction of the Durable Object between PATCHes (a deferred length)', async () => {
    const data = bytes(8 * MiB, 77);
    const { path } = await create({ 'upload-defer-length': '1' });
    expect((await patch(path, 0, data.slice(0, 3 * MiB))).status).toBe(204);
    await evictDurableObject(stubOf(path));
    expect((await patch(path, 3 * MiB, data.slice(3 * MiB, 6 * MiB))).status).toBe(204);
    await evictDurableObject(stubOf(path));
    const r = await patch(path, 6 * MiB, data.slice(6 * MiB), { 'upload-length': String(data.byteLength) });
    const file = await fileOf(r);
    expect(await storedSha(file)).toBe(await sha256(data));
    expect(partSizes).toEqual([5 * MiB, 3 * MiB]);
    // The running hash lived in the evicted object's memory: the checksum is made from the stored
    // object after the record, by the upload's alarm (which may have run already).
    await runDurableObjectAlarm(stubOf(path));
    await vi.waitFor(async () => expect((await fileOf(r)).checksum).toBe(await sha256(data)));
  });

  it('an upload begun before parts streamed (its short bytes in a tail table) goes on byte for byte', async () => {
    const data = bytes(7 * MiB + 11, 79);
    const { path } = await create({ 'upload-defer-length': '1' });
    expect((await patch(path, 0, data.slice(0, 3 * MiB))).status).toBe(204);
    // What the earlier version stored: the 3 MiB in `tail` rows, nothing staged, no hash state.
    const staged = await runInDurableObject(stubOf(path), (_, state) => {
      const key = state.storage.sql.exec<{ key: string }>('SELECT key FROM staged').one().key;
      state.storage.sql.exec('CREATE TABLE tail (seq INTEGER PRIMARY KEY, data BLOB NOT NULL)');
      for (let i = 0; i < 3; i++) state.storage.sql.exec('INSERT INTO tail (seq, data) VALUES (?, ?)', i * MiB, data.slice(i * MiB, (i + 1) * MiB));
      state.storage.sql.exec('DELETE FROM staged');
      const s = JSON.parse(state.storage.sql.exec<{ state: string }>('SELECT state FROM upload').one().state);
      state.storage.sql.exec('UPDATE upload SET state = ?', JSON.stringify({ ...s, hash: undefined }));
      return key;
    });
    await client.deleteObject(staged);
    const last = await patch(path, 3 * MiB, data.slice(3 * MiB), { 'upload-length': String(data.byteLength) });
    expect(last.status).toBe(204);
    const file = await fileOf(last);
    expect(await storedSha(file)).toBe(await sha256(data));
    expect(file.checksum).toBe(await sha256(data));
  });

  it('expires: the alarm drops what it holds and the upload answers 410', async () => {
    const { path } = await create({ 'upload-defer-length': '1' });
    expect((await patch(path, 0, bytes(10))).status).toBe(204);
    const stub = stubOf(path);
    await runInDurableObject(stub, (_, state) => {
      const row = state.storage.sql.exec<{ state: string }>('SELECT state FROM upload').one();
      const s = JSON.parse(row.state);
      state.storage.sql.exec('UPDATE upload SET state = ?', JSON.stringify({ ...s, expiresAt: Date.now() - 1 }));
    });
    const staged = `uploads/${path.split('/').pop()}/`;
    expect((await client.listObjects({ prefix: staged })).objects.map((o) => o.size)).toEqual([10]);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await client.listObjects({ prefix: staged })).objects).toEqual([]);
    expect((await head(path)).status).toBe(410);
    expect((await patch(path, 10, bytes(5))).status).toBe(410);
  });

  it('termination: 204, then 410', async () => {
    const { path } = await create({ 'upload-length': '100' });
    await patch(path, 0, bytes(10));
    expect((await api(path, { method: 'DELETE', headers: TUS })).status).toBe(204);
    expect((await head(path)).status).toBe(410);
    expect(await errorOf(await patch(path, 10, bytes(5)))).toMatchObject({ status: 410 });
  });

  it('the allow-list is checked against the sniffed type: 415 and nothing stored', async () => {
    // The test environment allows everything; an SVG declared as one type and sniffed is still recorded as SVG.
    const svg = fixture('image.svg');
    const { path } = await create({ 'upload-length': String(svg.byteLength), 'upload-metadata': metadata({ filename: 'x.png', filetype: 'image/png' }) });
    const file = await fileOf(await patch(path, 0, svg));
    expect(file.type).toBe('image/svg+xml');
  });
});
