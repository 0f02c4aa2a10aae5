import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { api, bytes, errorOf, type FileJson, sha256, testClient } from '../helpers';

/**
 * The part writer through the protocol, on the `local` location (P = 5 MiB): parts open across
 * PATCHes, what a cut, an eviction, a restart or a refused checksum costs, and what HEAD then says.
 */
const MiB = 1024 * 1024;
const TUS = { 'tus-resumable': '1.0.0' };
const client = testClient();

async function create(length: number): Promise<string> {
  const res = await api('/files/tus', { method: 'POST', headers: { ...TUS, 'upload-length': String(length) } });
  expect(res.status).toBe(201);
  return new URL(res.headers.get('location') ?? '').pathname;
}

const patch = (path: string, offset: number, body: BodyInit, headers: Record<string, string> = {}) =>
  api(path, { method: 'PATCH', headers: { ...TUS, 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset), ...headers }, body });
const offsetOf = async (path: string) => Number((await api(path, { method: 'HEAD', headers: TUS })).headers.get('upload-offset'));
const stubOf = (path: string) => env.UPLOADS.get(env.UPLOADS.idFromString(path.split('/').pop() as string));
const staged = async (path: string) => (await client.listObjects({ prefix: `uploads/${path.split('/').pop()}/` })).objects;

const recordOf = async (res: Response) => ((await (await api(`/files/${res.headers.get('directus-file-id')}`)).json()) as { data: FileJson }).data;

async function storedSha(res: Response): Promise<string> {
  expect(res.status, await res.clone().text()).toBe(204);
  const file = await recordOf(res);
  const object = await client.getObject(file.filename_disk);
  return sha256(new Uint8Array(await new Response(object?.body ?? null).arrayBuffer()));
}

/** Sends data[from, to) in PATCHes of `size`; the last answer. */
async function patchRange(path: string, data: Uint8Array, size: number, from: number, to = data.byteLength): Promise<Response> {
  let res: Response | undefined;
  for (let at = from; at < to; at += size) {
    const end = Math.min(at + size, to);
    res = await patch(path, at, data.slice(at, end));
    expect(res.status, await res.clone().text()).toBe(204);
    expect(res.headers.get('upload-offset')).toBe(String(end));
  }
  return res as Response;
}

/** A body that says it has `length` bytes, gives the first `n` of `data` and then fails, as a cut connection does. */
function cutAfter(data: Uint8Array, length: number, n: number): ReadableStream<Uint8Array> {
  const { readable, writable } = new FixedLengthStream(length);
  const writer = writable.getWriter();
  void (async () => {
    await writer.write(data.slice(0, n)).catch(() => {});
    await new Promise((r) => setTimeout(r, 50));
    await writer.abort(new Error('connection lost')).catch(() => {});
  })();
  return readable as ReadableStream<Uint8Array>;
}

describe('parts open across PATCHes', () => {
  it('PATCHes smaller than a part feed one UploadPart each: nothing is staged, the object is byte-identical', async () => {
    const data = bytes(11 * MiB + 3, 301);
    const path = await create(data.byteLength);
    await patchRange(path, data, 2 * MiB, 0, 8 * MiB);
    expect(await staged(path)).toEqual([]);
    expect(await offsetOf(path)).toBe(8 * MiB);
    const last = await patchRange(path, data, 2 * MiB, 8 * MiB);
    expect(await storedSha(last)).toBe(await sha256(data));
    // The running hash saw every byte once: the record has its checksum at once.
    expect((await recordOf(last)).checksum).toBe(await sha256(data));
  });

  it('an open part whose request ends between PATCHes (a pause past SOCKET_TIMEOUT, a storage error) is lost: HEAD answers its start, a PATCH past it is a 409 naming it', async () => {
    const data = bytes(8 * MiB, 302);
    const path = await create(data.byteLength);
    await patchRange(path, data, 3 * MiB, 0, 6 * MiB);
    // What the watchdog does to a request to storage that made no progress for SOCKET_TIMEOUT.
    await runInDurableObject(stubOf(path), (instance) => (instance as unknown as { writer: { open: { abort(e: Error): void } } }).writer.open.abort(new Error('timed out')));
    expect(await offsetOf(path)).toBe(5 * MiB);
    const wrong = await patch(path, 6 * MiB, data.slice(6 * MiB));
    expect(wrong.status).toBe(409);
    expect((await errorOf(wrong)).message).toContain(`server's offset ${5 * MiB}`);
    expect(await storedSha(await patchRange(path, data, 3 * MiB, 5 * MiB))).toBe(await sha256(data));
  });

  it('a PATCH at the open part\'s start sends the part again: its earlier bytes are not kept twice', async () => {
    const data = bytes(7 * MiB, 303);
    const path = await create(data.byteLength);
    await patchRange(path, data, 2 * MiB, 0, 4 * MiB);
    expect(await storedSha(await patchRange(path, data, 3 * MiB, 0))).toBe(await sha256(data));
  });

  it('a cut in the middle of a PATCH feeding an open part costs that part; the upload resumes from its start', async () => {
    const data = bytes(9 * MiB, 304);
    const path = await create(data.byteLength);
    await patchRange(path, data, 3 * MiB, 0, 6 * MiB);
    await patch(path, 6 * MiB, cutAfter(data.slice(6 * MiB), 3 * MiB, MiB)).catch(() => undefined);
    expect(await offsetOf(path)).toBe(5 * MiB);
    const last = await patchRange(path, data, 4 * MiB, 5 * MiB);
    expect(await storedSha(last)).toBe(await sha256(data));
    // The running hash had seen bytes that were given up: the checksum is made from the stored object
    // after the record, by the upload's alarm (which may have run already).
    await runDurableObjectAlarm(stubOf(path));
    await vi.waitFor(async () => expect((await recordOf(last)).checksum).toBe(await sha256(data)));
  });

  it('a PATCH with a wrong Upload-Checksum that fed an open part gives the part up: 460, and HEAD answers its start', async () => {
    const data = bytes(6 * MiB, 305);
    const path = await create(data.byteLength);
    await patchRange(path, data, 2 * MiB, 0, 2 * MiB);
    const refused = await patch(path, 2 * MiB, data.slice(2 * MiB, 3 * MiB), { 'upload-checksum': `sha256 ${btoa('x'.repeat(32))}` });
    expect(refused.status).toBe(460);
    expect(await offsetOf(path)).toBe(0);
    const digest = btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest('SHA-256', data.slice(2 * MiB, 3 * MiB)))));
    await patchRange(path, data, 2 * MiB, 0, 2 * MiB);
    const matched = await patch(path, 2 * MiB, data.slice(2 * MiB, 3 * MiB), { 'upload-checksum': `sha256 ${digest}` });
    expect(matched.status).toBe(204);
    expect(matched.headers.get('upload-offset')).toBe(String(3 * MiB));
    expect(await storedSha(await patchRange(path, data, 3 * MiB, 3 * MiB))).toBe(await sha256(data));
  });

  it('an upload of one part opened by its first PATCH is one PutObject fed by every PATCH', async () => {
    const data = bytes(4 * MiB + 1, 306);
    const path = await create(data.byteLength);
    await patchRange(path, data, MiB, 0, 3 * MiB);
    expect(await staged(path)).toEqual([]);
    expect(await storedSha(await patchRange(path, data, MiB, 3 * MiB))).toBe(await sha256(data));
  });
});
