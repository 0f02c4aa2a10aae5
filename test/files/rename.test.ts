import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config';
import { FilesRepository } from '../../src/db/files-repository';
import { LiveUploadsRepository } from '../../src/db/live-uploads-repository';
import { SweepRepository } from '../../src/db/sweep-repository';
import { AppError } from '../../src/errors/app-error';
import { renameFile } from '../../src/files/rename';
import { createFile, type FilesDeps, replaceFile, requireFile } from '../../src/files/service';
import { sweepLocation } from '../../src/files/sweep';
import { storageFor } from '../../src/storage';
import { S3Client } from '../../src/storage/s3-client';
import { api, errorOf, type FileJson, fixture, form, locationVars, newToken, testClient, uploadFile } from '../helpers';

/** PATCH /files/:id `filename_disk`: the stored object is renamed (copy, switch, delete). */

const client = testClient();
const json = { 'content-type': 'application/json' };
const r = () => crypto.randomUUID().slice(0, 8);
const png = fixture('alpha.png');

const rename = (id: string, body: Record<string, unknown>, token?: string) =>
  api(`/files/${id}`, { method: 'PATCH', headers: json, body: JSON.stringify(body), ...(token === undefined ? {} : { token }) });

async function fileJson(id: string): Promise<FileJson> {
  return ((await (await api(`/files/${id}`)).json()) as { data: FileJson }).data;
}

async function served(id: string, query = ''): Promise<Uint8Array> {
  const res = await api(`/assets/${id}${query}`);
  expect(res.status).toBe(200);
  return new Uint8Array(await res.arrayBuffer());
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('PATCH /files/:id filename_disk', () => {
  it('renames the object: the bytes follow, the old key goes, derivatives still serve', async () => {
    const file = await uploadFile({ name: 'photo.png', data: png, type: 'image/png' });
    const thumbBefore = await served(file.id, '?width=8');
    const key = `renamed-${r()}.png`;
    const res = await rename(file.id, { filename_disk: key, title: 'Renamed' });
    expect(res.status, await res.clone().text()).toBe(200);
    const data = ((await res.json()) as { data: FileJson }).data;
    expect(data).toMatchObject({ filename_disk: key, title: 'Renamed', checksum: file.checksum });
    expect(await served(file.id)).toEqual(png);
    expect(await served(file.id, '?width=8')).toEqual(thumbBefore);
    expect(await client.readBytes(key)).toEqual(png);
    expect(await client.headObject(file.filename_disk)).toBeNull();
    // The same name again changes nothing.
    expect((await rename(file.id, { filename_disk: key })).status).toBe(200);
    expect(await client.readBytes(key)).toEqual(png);
  });

  it('refuses a name that is not a key of the same type, and changes nothing', async () => {
    const file = await uploadFile({ name: 'photo.png', data: png, type: 'image/png' });
    const hostile: unknown[] = ['../x.png', '..\\x.png', 'a/b.png', '/etc.png', 'con.png', 'NUL.png', 'x.jpg', 'x', `${'a'.repeat(300)}.png`, '', '.', '..', '.png', 'Upper.png', 'a\u0000b.png', 'a..b.png', 'é.png', 42, null];
    for (const name of hostile) {
      const error = await errorOf(await rename(file.id, { filename_disk: name }));
      expect(error, String(name)).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
      expect(error.message).toContain('"filename_disk"');
    }
    expect((await errorOf(await rename(file.id, { filename_disk: 'x.jpg' }))).message).toContain('.png');
    expect((await fileJson(file.id)).filename_disk).toBe(file.filename_disk);
    expect(await served(file.id)).toEqual(png);
  });

  it('is for the admin scope only', async () => {
    const file = await uploadFile({ name: 'photo.png', data: png, type: 'image/png' });
    for (const scope of ['read', 'upload'] as const) {
      const { token } = await newToken(scope);
      const error = await errorOf(await rename(file.id, { filename_disk: `mine-${r()}.png` }, token));
      expect(error).toMatchObject({ status: 403, code: 'FORBIDDEN' });
      expect(error.message).toMatch(/admin/);
    }
    expect((await rename(file.id, { filename_disk: `mine-${r()}.png` }, null as unknown as string)).status).toBe(401);
    expect((await fileJson(file.id)).filename_disk).toBe(file.filename_disk);
  });

  it('answers 409 when the key is in use (a record, an object of another program) and keeps both', async () => {
    const a = await uploadFile({ name: 'a.png', data: png, type: 'image/png' });
    const b = await uploadFile({ name: 'b.txt', data: 'b bytes', type: 'text/plain' });
    const taken = `taken-${r()}.png`;
    expect((await rename(a.id, { filename_disk: taken })).status).toBe(200);
    const b2 = await uploadFile({ name: 'b.png', data: fixture('alpha.png'), type: 'image/png' });
    const clash = await errorOf(await rename(b2.id, { filename_disk: taken }));
    expect(clash).toMatchObject({ status: 409, code: 'CONFLICT' });
    expect(clash.message).toContain(taken);

    const foreign = `foreign-${r()}.txt`;
    await client.putObject(foreign, new TextEncoder().encode('not ours'), { contentType: 'text/plain' });
    expect(await errorOf(await rename(b.id, { filename_disk: foreign }))).toMatchObject({ status: 409, code: 'CONFLICT' });
    expect(new TextDecoder().decode((await client.readBytes(foreign)) ?? new Uint8Array())).toBe('not ours');
    expect((await fileJson(b.id)).filename_disk).toBe(b.filename_disk);
    expect((await fileJson(b2.id)).filename_disk).toBe(b2.filename_disk);
    expect(await served(a.id)).toEqual(png);
  });
});

/**
 * A rename cut at each step, and racing another change: domain calls in a location of their own
 * (ROOT), so the sweep there sees only these objects.
 */
describe('a rename cut or raced', () => {
  const root = `rename-tests-${r()}`;
  const config = parseConfig({ STORAGE_LOCATIONS: 'named', ...locationVars('named', { ROOT: root }) });
  const deps: FilesDeps = { config, repo: new FilesRepository(env.DB), live: new LiveUploadsRepository(env.DB), fileNaming: async () => 'uuid' };
  const store = storageFor(config, 'named');
  const sweep = (now: number) =>
    sweepLocation({ files: new FilesRepository(env.DB), live: new LiveUploadsRepository(env.DB), positions: new SweepRepository(env.DB) }, store, { now, graceMs: 0, maxPages: 100 });
  const HOURS_3 = 3 * 3600_000;

  const newFile = (bytes: Uint8Array = png) => createFile(deps, { stream: new Blob([bytes]).stream(), filename: 'cut.png', declaredType: 'image/png' }, {});
  const realSwitch = FilesRepository.prototype.switchKey;

  it('a failed copy leaves the file as it was', async () => {
    const file = await newFile();
    const to = `copy-fails-${r()}.png`;
    vi.spyOn(S3Client.prototype, 'copyObject').mockRejectedValueOnce(new AppError('STORAGE_UNAVAILABLE', 'injected'));
    await expect(renameFile(deps, file.id, to)).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    expect((await requireFile(deps, file.id)).filenameDisk).toBe(file.filenameDisk);
    expect(await store.headObject(to)).toBeNull();
    // The key is free again at once.
    expect((await renameFile(deps, file.id, to)).filenameDisk).toBe(to);
  });

  it('cut after the copy, before the switch: the file still works and the sweep removes the copy', async () => {
    const file = await newFile();
    const to = `cut-before-switch-${r()}.png`;
    vi.spyOn(FilesRepository.prototype, 'switchKey').mockRejectedValueOnce(new Error('D1 went away'));
    await expect(renameFile(deps, file.id, to)).rejects.toThrow('D1 went away');
    expect((await requireFile(deps, file.id)).filenameDisk).toBe(file.filenameDisk);
    expect(await store.readBytes(to)).toEqual(png);
    // While its claim lasts the copy is an upload in flight; once it has expired, an orphan.
    await sweep(Date.now());
    expect(await store.headObject(to)).not.toBeNull();
    const report = await sweep(Date.now() + HOURS_3);
    expect(report.removedObjects).toContain(to);
    expect(await store.headObject(to)).toBeNull();
    expect(await store.readBytes(file.filenameDisk as string)).toEqual(png);
  });

  it('cut after the switch, before the delete: the new key serves and the sweep removes the old', async () => {
    const file = await newFile();
    const from = file.filenameDisk as string;
    const to = `cut-before-delete-${r()}.png`;
    const realDelete = S3Client.prototype.deleteObject;
    vi.spyOn(S3Client.prototype, 'deleteObject').mockImplementation(async function (this: S3Client, key: string) {
      if (key === from) throw new AppError('STORAGE_UNAVAILABLE', 'injected');
      return realDelete.call(this, key);
    });
    expect((await renameFile(deps, file.id, to)).filenameDisk).toBe(to);
    vi.restoreAllMocks();
    expect(await store.headObject(from)).not.toBeNull();
    const report = await sweep(Date.now() + 1000);
    expect(report.removedObjects).toContain(from);
    expect(report.removedObjects).not.toContain(to);
    expect(await store.readBytes(to)).toEqual(png);
  });

  it('a name key cut the same way is swept too (it was claimed)', async () => {
    const file = await newFile();
    const first = `first-${r()}.png`;
    await renameFile(deps, file.id, first);
    const realDelete = S3Client.prototype.deleteObject;
    vi.spyOn(S3Client.prototype, 'deleteObject').mockImplementation(async function (this: S3Client, key: string) {
      if (key === first) throw new AppError('STORAGE_UNAVAILABLE', 'injected');
      return realDelete.call(this, key);
    });
    const second = `second-${r()}.png`;
    await renameFile(deps, file.id, second);
    vi.restoreAllMocks();
    expect((await sweep(Date.now() + 1000)).removedObjects).toContain(first);
    expect(await store.readBytes(second)).toEqual(png);
  });

  it('two renames at once: one wins, the loser deletes its copy and answers 409', async () => {
    const file = await newFile();
    const loser = `loser-${r()}.png`;
    const winner = `winner-${r()}.png`;
    vi.spyOn(FilesRepository.prototype, 'switchKey').mockImplementationOnce(async function (this: FilesRepository, ...args) {
      // The other rename lands between this one's copy and its switch.
      await renameFile(deps, file.id, winner);
      return realSwitch.apply(this, args);
    });
    await expect(renameFile(deps, file.id, loser)).rejects.toMatchObject({ code: 'CONFLICT' });
    expect((await requireFile(deps, file.id)).filenameDisk).toBe(winner);
    expect(await store.readBytes(winner)).toEqual(png);
    expect(await store.headObject(loser)).toBeNull();
    expect(await store.headObject(file.filenameDisk as string)).toBeNull();
  });

  it('a replacement during a rename wins; the rename cleans its copy and answers 409', async () => {
    const file = await newFile();
    const to = `raced-${r()}.png`;
    const jpeg = fixture('gray.jpg');
    vi.spyOn(FilesRepository.prototype, 'switchKey').mockImplementationOnce(async function (this: FilesRepository, ...args) {
      await replaceFile(deps, file.id, { stream: new Blob([jpeg]).stream(), filename: 'new.jpg', declaredType: 'image/jpeg' }, {});
      return realSwitch.apply(this, args);
    });
    await expect(renameFile(deps, file.id, to)).rejects.toMatchObject({ code: 'CONFLICT' });
    const now = await requireFile(deps, file.id);
    expect(now.type).toBe('image/jpeg');
    expect(await store.readBytes(now.filenameDisk as string)).toEqual(jpeg);
    expect(await store.headObject(to)).toBeNull();
  });

  it('a rename during a replacement wins; the replacement removes its bytes and answers 409', async () => {
    const file = await newFile();
    const to = `first-in-${r()}.png`;
    const realUpdate = FilesRepository.prototype.update;
    vi.spyOn(FilesRepository.prototype, 'update').mockImplementationOnce(async function (this: FilesRepository, ...args) {
      await renameFile(deps, file.id, to);
      return realUpdate.apply(this, args);
    });
    const listed = async () => (await store.listObjects({ delimiter: '/' })).objects.map((o) => o.key);
    const before = await listed();
    await expect(replaceFile(deps, file.id, { stream: new Blob([fixture('gray.jpg')]).stream(), filename: 'new.jpg', declaredType: 'image/jpeg' }, {})).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    const now = await requireFile(deps, file.id);
    expect(now.filenameDisk).toBe(to);
    expect(await store.readBytes(to)).toEqual(png);
    // Nothing new is left: the renamed object replaced the old one, the replacement's bytes went.
    expect((await listed()).filter((k) => !before.includes(k))).toEqual([to]);
  });
});

describe('replacement keys', () => {
  it('a multipart replacement still works through the API after a rename', async () => {
    const file = await uploadFile({ name: 'photo.png', data: png, type: 'image/png' });
    const key = `then-replaced-${r()}.png`;
    expect((await rename(file.id, { filename_disk: key })).status).toBe(200);
    const res = await api(`/files/${file.id}`, { method: 'PATCH', body: form([{ name: 'next.jpg', data: fixture('gray.jpg'), type: 'image/jpeg' }]) });
    expect(res.status).toBe(200);
    expect(await client.headObject(key)).toBeNull();
    expect(await served(file.id)).toEqual(fixture('gray.jpg'));
  });
});
