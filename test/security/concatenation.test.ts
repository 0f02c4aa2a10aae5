import { env, evictDurableObject, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { api, bytes, errorOf, sha256, testClient, tusMetadata, untilAssembled } from '../helpers';

/**
 * TUS concatenation bounded and atomic: a partial upload is used by one final upload exactly once
 * (never twice in a list, never by two concurrent finals), a final's size and partial count are
 * refused before anything is copied, and the assembly runs in the final upload's alarm while the
 * client polls with HEAD.
 */
const MiB = 1024 * 1024;
const TUS = { 'tus-resumable': '1.0.0' };
const OCTETS = { 'content-type': 'application/offset+octet-stream' };
const client = testClient();

const head = (path: string) => api(path, { method: 'HEAD', headers: TUS });
const idOf = (path: string) => path.split('/').pop() as string;

/** A complete partial upload of `data` (creation-with-upload): its path. */
async function partial(data: Uint8Array): Promise<string> {
  const res = await api('/files/tus', { method: 'POST', headers: { ...TUS, ...OCTETS, 'upload-length': String(data.byteLength), 'upload-concat': 'partial' }, body: data });
  expect(res.status, await res.clone().text()).toBe(201);
  expect(res.headers.get('upload-offset')).toBe(String(data.byteLength));
  return new URL(res.headers.get('location') as string).pathname;
}

function final(list: string[], filename = 'joined.bin'): Promise<Response> {
  return api('/files/tus', { method: 'POST', headers: { ...TUS, 'upload-concat': `final;${list.join(' ')}`, 'upload-metadata': tusMetadata({ filename }) } });
}

async function storedSha(fileId: string): Promise<string> {
  const res = await api(`/assets/${fileId}`);
  expect(res.status).toBe(200);
  return sha256(await res.arrayBuffer());
}

const fileCount = async () => env.DB.prepare('SELECT count(*) AS n FROM files').first<number>('n');

/** The partial upload is still there and free: a final of it alone succeeds with its bytes. */
async function expectFree(path: string, data: Uint8Array): Promise<void> {
  const res = await final([path]);
  expect(res.status, await res.clone().text()).toBe(201);
  const done = await untilAssembled(new URL(res.headers.get('location') as string).pathname);
  expect(done.status).toBe(200);
  expect(await storedSha(done.headers.get('directus-file-id') as string)).toBe(await sha256(data));
}

describe('a partial upload at most once in a list', () => {
  it('refuses a partial named twice, in any URL form, with 400 and nothing claimed', async () => {
    const a = bytes(1000, 1);
    const b = bytes(500, 2);
    const pa = await partial(a);
    const pb = await partial(b);
    const forms = [
      [pa, pa],
      [pa, pb, pa],
      [pa, `http://assets.test${pa}`],
      [pa, `${pa}?again=1`],
      [pb, `${pa}#x`, pa],
    ];
    const files = await fileCount();
    for (const list of forms) {
      const err = await errorOf(await final(list));
      expect(err, list.join(' ')).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
      expect(err.message).toMatch(/already in the list; each may be used once/);
    }
    expect(await fileCount()).toBe(files);
    await expectFree(pa, a);
    await expectFree(pb, b);
  });

  it('refuses one partial listed 100 or 1,000 times (it would make a file that many times its size)', async () => {
    const data = bytes(1024, 3);
    const p = await partial(data);
    const files = await fileCount();
    const err = await errorOf(await final(Array.from({ length: 100 }, () => p)));
    expect(err).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
    expect(err.message).toMatch(/already in the list/);
    expect(await errorOf(await final(Array.from({ length: 1000 }, () => p)))).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
    expect(await fileCount()).toBe(files);
    expect((await head(p)).headers.get('upload-concat')).toBe('partial');
  });
});

describe('concurrent finals naming one partial', () => {
  it('exactly one wins, the others get 409 and their own partials are released', async () => {
    const shared = bytes(3000, 10);
    const own = await Promise.all([11, 12, 13, 14].map((seed) => bytes(700, seed)));
    const ps = await partial(shared);
    const mine = await Promise.all(own.map((d) => partial(d)));
    const answers = await Promise.all(mine.map((p) => final([ps, p])));
    const won = answers.map((r, i) => ({ r, i })).filter(({ r }) => r.status === 201);
    expect(won).toHaveLength(1);
    for (const r of answers.filter((r) => r.status !== 201)) {
      const err = await errorOf(r);
      expect([409, 410]).toContain(err.status);
      expect(err.message).toMatch(/already used by another final upload|terminated/);
    }
    const winner = won[0] as { r: Response; i: number };
    const done = await untilAssembled(new URL(winner.r.headers.get('location') as string).pathname);
    expect(done.status).toBe(200);
    const expected = new Uint8Array([...shared, ...(own[winner.i] as Uint8Array)]);
    expect(await storedSha(done.headers.get('directus-file-id') as string)).toBe(await sha256(expected));
    // Used up: the shared partial is gone; a later final naming it gets 410.
    expect((await head(ps)).status).toBe(410);
    expect((await final([ps])).status).toBe(410);
    // The losers claimed nothing that stays: their own partials make files of their own.
    for (const [i, p] of mine.entries()) if (i !== winner.i) await expectFree(p, own[i] as Uint8Array);
  });

  it('a partial upload past its expiry is not claimed (410): its alarm may be deleting its object', async () => {
    const p = await partial(bytes(100, 15));
    await runInDurableObject(env.UPLOADS.get(env.UPLOADS.idFromString(idOf(p))), (_, state) => {
      const s = JSON.parse(state.storage.sql.exec<{ state: string }>('SELECT state FROM upload').one().state);
      state.storage.sql.exec('UPDATE upload SET state = ?', JSON.stringify({ ...s, expiresAt: Date.now() - 1 }));
    });
    expect(await errorOf(await final([p]))).toMatchObject({ status: 410, code: 'UPLOAD_GONE', message: expect.stringMatching(/has expired/) });
  });
});

describe('bounds before any copy', () => {
  it('refuses more than 100 partial uploads with 400 naming the limit, before any is claimed', async () => {
    const data = bytes(100, 4);
    const p = await partial(data);
    for (const n of [101, 1000]) {
      const ids = [p, ...Array.from({ length: n - 1 }, (_, i) => `/files/tus/${i.toString(16).padStart(64, '0')}`)];
      const err = await errorOf(await final(ids));
      expect(err).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
      expect(err.message).toMatch(new RegExp(`${n} partial uploads; at most 100 `));
    }
    await expectFree(p, data);
  });

  it('refuses a total over the maximum upload size with 413 naming its variables; the partials stay free', async () => {
    const pieces = [bytes(7 * MiB, 20), bytes(7 * MiB, 21), bytes(7 * MiB, 22)];
    const ps = [];
    for (const d of pieces) ps.push(await partial(d));
    const files = await fileCount();
    const err = await errorOf(await final(ps));
    expect(err).toMatchObject({ status: 413, code: 'CONTENT_TOO_LARGE' });
    expect(err.message).toMatch(/over Tus-Max-Size 20971520 \(TUS_MAX_SIZE, FILES_MAX_UPLOAD_SIZE\); nothing was copied/);
    expect(await fileCount()).toBe(files);
    // Released on refusal: two of them still make a file (of two parts, assembled in alarm steps).
    const res = await final([ps[0] as string, ps[1] as string]);
    expect(res.status, await res.clone().text()).toBe(201);
    const path = new URL(res.headers.get('location') as string).pathname;
    // An eviction while it assembles costs nothing: the next alarm resumes from the last part recorded.
    await evictDurableObject(env.UPLOADS.get(env.UPLOADS.idFromString(idOf(path))));
    const done = await untilAssembled(path);
    expect(done.headers.get('upload-offset')).toBe(String(14 * MiB));
    expect(await storedSha(done.headers.get('directus-file-id') as string)).toBe(await sha256(new Uint8Array([...(pieces[0] as Uint8Array), ...(pieces[1] as Uint8Array)])));
  });
});

describe('assembly outside the request', () => {
  it('answers 201 at once; HEAD has no Upload-Offset until done, then Upload-Offset = Upload-Length and the file id', async () => {
    const pieces = Array.from({ length: 100 }, (_, i) => bytes(1000 + i, 100 + i));
    const ps = [];
    for (let i = 0; i < pieces.length; i += 20) ps.push(...(await Promise.all(pieces.slice(i, i + 20).map((d) => partial(d)))));
    const length = pieces.reduce((n, d) => n + d.byteLength, 0);
    const res = await final(ps);
    expect(res.status, await res.clone().text()).toBe(201);
    expect(res.headers.has('upload-offset')).toBe(false);
    expect(res.headers.has('directus-file-id')).toBe(false);
    const path = new URL(res.headers.get('location') as string).pathname;
    const first = await head(path);
    expect(first.status).toBe(200);
    expect(first.headers.get('upload-length')).toBe(String(length));
    expect(first.headers.get('upload-concat')).toMatch(/^final;/);
    const done = await untilAssembled(path);
    expect(done.status).toBe(200);
    expect(done.headers.get('upload-offset')).toBe(String(length));
    expect(done.headers.get('upload-length')).toBe(String(length));
    const whole = new Uint8Array(length);
    let at = 0;
    for (const d of pieces) {
      whole.set(d, at);
      at += d.byteLength;
    }
    expect(await storedSha(done.headers.get('directus-file-id') as string)).toBe(await sha256(whole));
    expect((await api(path, { method: 'PATCH', headers: { ...TUS, ...OCTETS, 'upload-offset': '0' }, body: new Uint8Array(1) })).status).toBe(403);
  });

  it('an assembly that fails answers its error on HEAD, keeps no file and releases the other partials', async () => {
    const good = bytes(2000, 30);
    const lost = bytes(2000, 31);
    const pg = await partial(good);
    const pl = await partial(lost);
    // Its bytes vanish from storage after it completed: the claim succeeds, the copy cannot.
    await client.deleteObject(`uploads/${idOf(pl)}/object`);
    const files = await fileCount();
    const res = await final([pg, pl]);
    expect(res.status, await res.clone().text()).toBe(201);
    const path = new URL(res.headers.get('location') as string).pathname;
    const failed = await untilAssembled(path);
    expect(failed.status).toBe(502);
    const err = await errorOf(await api(path, { headers: TUS }));
    expect(err).toMatchObject({ status: 502, code: 'STORAGE_ERROR' });
    expect(err.message).toMatch(/This final upload failed: Bytes of this upload are missing/);
    expect(await fileCount()).toBe(files);
    expect((await client.listObjects({ prefix: `uploads/${idOf(path)}/` })).objects).toEqual([]);
    expect(await env.DB.prepare('SELECT count(*) AS n FROM live_uploads WHERE id = ?').bind(idOf(path)).first('n')).toBe(0);
    await expectFree(pg, good);
  });
});
