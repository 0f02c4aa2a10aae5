import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { app } from '../../src/app';
import { parseConfig } from '../../src/config';
import { ChecksumProgressRepository } from '../../src/db/checksum-progress-repository';
import { continueChecksums } from '../../src/files/checksum-sweep';
import { ADMIN_TOKEN, bytes, sha256 } from '../helpers';
import { type Completion, DirectClient } from './direct-client';

/**
 * Checksums past FILES_DIRECT_CHECKSUM_MAX (1 GiB; 1 MiB here, so a 12 MiB file stands for a file
 * over 1 GiB): none after completion, then the sweep hashes STORAGE_SWEEP_CHECKSUM_BYTES a run
 * (5 MiB here), saving the SHA-256 state in D1 between runs, and writes the checksum after the
 * last byte.
 */
const MiB = 1024 * 1024;
const vars = { ...env, FILES_DIRECT_CHECKSUM_MAX: '1mb' };
const config = parseConfig(vars);
const progress = new ChecksumProgressRepository(env.DB);

async function record(id: string): Promise<Completion['data']> {
  const res = await app.request(`http://assets.test/files/${id}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }, vars);
  return ((await res.json()) as { data: Completion['data'] }).data;
}

describe('checksums of direct uploads too large for the background', () => {
  it('a 12 MiB file (over the lowered threshold) gets its checksum over three sweep runs of 5 MiB', async () => {
    const data = bytes(12 * MiB + 5, 41);
    const res = await new DirectClient(ADMIN_TOKEN, vars).upload('large.bin', 'application/octet-stream', data);
    expect(res.status).toBe(200);
    const { data: created } = (await res.json()) as Completion;
    expect(created.checksum).toBeNull();
    // Nothing runs in the background for it.
    await new Promise((r) => setTimeout(r, 300));
    expect((await record(created.id)).checksum).toBeNull();

    for (const [run, hashed] of [[1, 5 * MiB], [2, 10 * MiB]] as const) {
      expect(await continueChecksums(config, progress, 5 * MiB), `run ${run}`).toEqual({ finished: [], advanced: [created.id] });
      expect((await record(created.id)).checksum).toBeNull();
      const saved = await progress.get(created.id);
      expect(saved?.key).toBe(created.filename_disk);
      // The saved state covers exactly the bytes hashed so far (its last 8 of 40 header bytes).
      const state = Uint8Array.from(atob(saved?.state ?? ''), (c) => c.charCodeAt(0));
      expect(new DataView(state.buffer).getFloat64(32)).toBe(hashed);
    }
    expect(await continueChecksums(config, progress, 5 * MiB)).toEqual({ finished: [created.id], advanced: [] });
    expect((await record(created.id)).checksum).toBe(await sha256(data));
    expect(await progress.get(created.id)).toBeUndefined();
    // Done: nothing left for the next run.
    expect(await continueChecksums(config, progress, 5 * MiB)).toEqual({ finished: [], advanced: [] });
  });

  it('the variables are sizes, named when wrong', () => {
    expect(parseConfig({ ...env, STORAGE_SWEEP_CHECKSUM_BYTES: '2gb', FILES_DIRECT_CHECKSUM_MAX: '512mb' })).toMatchObject({ sweep: { checksumBytes: 2 * 1024 ** 3 }, files: { directChecksumMax: 512 * MiB } });
    expect(() => parseConfig({ ...env, STORAGE_SWEEP_CHECKSUM_BYTES: 'lots' })).toThrow(/STORAGE_SWEEP_CHECKSUM_BYTES/);
    expect(() => parseConfig({ ...env, FILES_DIRECT_CHECKSUM_MAX: '-1' })).toThrow(/FILES_DIRECT_CHECKSUM_MAX/);
  });
});
