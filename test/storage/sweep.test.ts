import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config';
import { FilesRepository } from '../../src/db/files-repository';
import { LiveUploadsRepository } from '../../src/db/live-uploads-repository';
import { SweepRepository } from '../../src/db/sweep-repository';
import { sweepLocation } from '../../src/files/sweep';
import worker from '../../src/index';
import { S3Client } from '../../src/storage/s3-client';
import { bytes, locationVars, s3 } from '../helpers';

const files = new FilesRepository(env.DB);
const live = new LiveUploadsRepository(env.DB);
const deps = { files, live, positions: new SweepRepository(env.DB) };
const HOUR = 3600_000;

/** A storage location of its own (name and ROOT), so a sweep sees only what its test put there. */
function location(): { name: string; client: S3Client } {
  const name = `sw${crypto.randomUUID().slice(0, 8)}`;
  const config = parseConfig({ STORAGE_LOCATIONS: name, ...locationVars(name, { ROOT: name }) });
  return { name, client: new S3Client(config.defaultLocation) };
}

const id = () => crypto.randomUUID();

async function put(client: S3Client, ...keys: string[]): Promise<void> {
  for (const key of keys) await client.putObject(key, new Uint8Array([1, 2, 3]));
}

async function record(storage: string, key: string, fileId = id()): Promise<string> {
  await files.insertOnce({ id: fileId, storage, filenameDisk: key, filenameDownload: key, filesize: 3 });
  return fileId;
}

async function keys(client: S3Client): Promise<string[]> {
  const all: string[] = [];
  for await (const o of client.listAll()) all.push(o.key);
  return all.sort();
}

afterEach(() => vi.restoreAllMocks());

describe('the storage sweep', () => {
  it('removes orphaned originals and derivatives of deleted files, and nothing else', async () => {
    const { name, client } = location();
    const now = Date.now() + 60_000;
    const orphan = `${id()}.jpg`;
    const orphanReplacement = `${id()}.0a1b2c3d.png`;
    const referenced = `${id()}.txt`;
    const held = `${id()}.bin`;
    const leaseEnded = `${id()}.dat`;
    const foreign = ['notes.txt', `other-app/${id()}.jpg`, `${id()}-backup.jpg`];
    const kept = id();
    const deleted = id();
    await put(client, orphan, orphanReplacement, referenced, held, leaseEnded, ...foreign, `generated/${kept}/a.jpg`, `generated/${deleted}/a.jpg`, `generated/${deleted}/b.webp`);
    await record(name, referenced);
    await record(name, `${kept}.jpg`, kept);
    await live.track({ id: id(), storage: name, key: held, s3UploadId: null, liveUntil: now + HOUR });
    await live.track({ id: id(), storage: name, key: leaseEnded, s3UploadId: null, liveUntil: now - 1 });

    const report = await sweepLocation(deps, client, { now, graceMs: 0, maxPages: 100 });

    expect(report.removedObjects.sort()).toEqual([orphan, orphanReplacement, leaseEnded].sort());
    expect(report.removedDerivativesOf).toEqual([deleted]);
    expect(report).toMatchObject({ storage: name, passEnded: true, phases: ['objects', 'generated', 'uploads', 'multipart'] });
    expect(await keys(client)).toEqual([referenced, held, ...foreign, `generated/${kept}/a.jpg`].sort());
  });

  it("removes what TUS uploads that are no longer live left under uploads/, and keeps live uploads' bytes", async () => {
    const { client } = location();
    const now = Date.now() + 60_000;
    const uploadId = () => Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, '0')).join('');
    const [dead, expired, alive] = [uploadId(), uploadId(), uploadId()];
    const foreign = ['uploads/readme.txt', 'uploads/not-an-upload/x', `uploads/${dead.slice(0, 40)}/x`];
    await put(client, `uploads/${dead}/staged-0`, `uploads/${dead}/staged-5242880`, `uploads/${expired}/object`, `uploads/${alive}/staged-0`, ...foreign);
    await live.track({ id: alive, storage: client.location.name, key: `uploads/${alive}/`, s3UploadId: null, liveUntil: now + HOUR });
    await live.track({ id: expired, storage: client.location.name, key: `uploads/${expired}/object`, s3UploadId: null, liveUntil: now - 1 });

    const report = await sweepLocation(deps, client, { now, graceMs: 0, maxPages: 100 });

    expect(report.removedObjects.sort()).toEqual([`uploads/${dead}/staged-0`, `uploads/${dead}/staged-5242880`, `uploads/${expired}/object`].sort());
    expect(await keys(client)).toEqual([`uploads/${alive}/staged-0`, ...foreign].sort());
    const young = location();
    await put(young.client, `uploads/${dead}/staged-0`);
    expect((await sweepLocation(deps, young.client, { now: Date.now(), graceMs: HOUR, maxPages: 100 })).removedObjects).toEqual([]);
  });

  it('leaves objects younger than the grace period', async () => {
    const { client } = location();
    const orphan = `${id()}.jpg`;
    await put(client, orphan);
    const young = await sweepLocation(deps, client, { now: Date.now(), graceMs: HOUR, maxPages: 100 });
    expect(young.removedObjects).toEqual([]);
    expect(await keys(client)).toEqual([orphan]);
    const later = await sweepLocation(deps, client, { now: Date.now() + 2 * HOUR, graceMs: HOUR, maxPages: 100 });
    expect(later.removedObjects).toEqual([orphan]);
  });

  it('a large bucket is swept over several runs, each going on where the last stopped', async () => {
    const { client } = location();
    const orphans = Array.from({ length: 5 }, () => `${id()}.jpg`).sort();
    await put(client, ...orphans);
    const run = () => sweepLocation(deps, client, { now: Date.now() + 60_000, graceMs: 0, maxPages: 1, pageSize: 2 });
    const first = await run();
    expect(first).toMatchObject({ removedObjects: orphans.slice(0, 2), passEnded: false });
    expect(await keys(client)).toEqual(orphans.slice(2));
    const removed = [...first.removedObjects];
    let ended = false;
    for (let i = 0; i < 10 && !ended; i++) {
      const next = await run();
      removed.push(...next.removedObjects);
      ended = next.passEnded;
    }
    expect(ended).toBe(true);
    expect(removed).toEqual(orphans);
    expect(await keys(client)).toEqual([]);
  });

  describe.skipIf(s3.lenient)('multipart uploads (a store that lists them)', () => {
    it('aborts the ones no live upload owns, and only those', async () => {
      const { name, client } = location();
      const unowned = `${id()}.bin`;
      const owned = `${id()}.bin`;
      const foreign = `other-app/${id()}.bin`;
      const ids: Record<string, string> = {};
      for (const key of [unowned, owned, foreign]) {
        ids[key] = await client.createMultipartUpload(key);
        await client.uploadPart(key, ids[key] as string, 1, bytes(5 * 1024 * 1024));
      }
      await live.track({ id: id(), storage: name, key: owned, s3UploadId: ids[owned] as string, liveUntil: Date.now() + HOUR });

      const report = await sweepLocation(deps, client, { now: Date.now() + 60_000, graceMs: 0, maxPages: 100 });

      expect(report.abortedUploads).toEqual([{ key: unowned, uploadId: ids[unowned] }]);
      // NoSuchUpload (S3) or NoSuchKey (Ceph RGW): either way, gone.
      await expect(client.listParts(unowned, ids[unowned] as string)).rejects.toMatchObject({ code: 'STORAGE_OBJECT_NOT_FOUND' });
      expect(await client.listParts(owned, ids[owned] as string)).toHaveLength(1);
      expect(await client.listParts(foreign, ids[foreign] as string)).toHaveLength(1);
      for (const key of [owned, foreign]) await client.abortMultipartUpload(key, ids[key] as string);
    });
  });

  it('runs on the Cron Trigger over every location, one structured log line each', async () => {
    const lines: Record<string, unknown>[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => {
      if (typeof line === 'string' && line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>);
    });
    const ctx = createExecutionContext();
    worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: '*/30 * * * *' }), env, ctx);
    await waitOnExecutionContext(ctx);
    const sweeps = lines.filter((l) => l.msg === 'sweep');
    expect(sweeps.map((l) => l.storage).sort()).toEqual(['faulty', 'local']);
    for (const l of sweeps) expect(l).toMatchObject({ level: 'info', removedObjects: expect.any(Array), requestId: expect.stringMatching(/^cron-/) });
    expect(lines.find((l) => l.msg === 'sweep finished')).toMatchObject({ locations: 2 });
  });
});
