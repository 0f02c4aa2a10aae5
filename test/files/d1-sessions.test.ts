import { describe, expect, it } from 'vitest';
import type { FilesRepository } from '../../src/db/files-repository';
import type { FileRow } from '../../src/db/schema';
import { type FilesDeps, fileByPrivateHash, requireFile } from '../../src/files/service';
import { api, form, uploadFile } from '../helpers';

describe('D1 read replicas (Sessions API)', () => {
  it('answers carry the session bookmark, which a client may send back', async () => {
    const res = await api('/files', { method: 'POST', body: form([{ name: 'x.txt', data: 'x' }]) });
    expect(res.status).toBe(200);
    const bookmark = res.headers.get('x-d1-bookmark');
    expect(bookmark).toMatch(/^[\w-]+$/);
    const id = ((await res.json()) as { data: { id: string } }).data.id;
    const read = await api(`/files/${id}`, { headers: { 'x-d1-bookmark': bookmark as string } });
    expect(read.status).toBe(200);
    expect(read.headers.get('x-d1-bookmark')).toBeTruthy();
    // A bookmark that is not one is ignored, not an error.
    expect((await api(`/files/${id}`, { headers: { 'x-d1-bookmark': 'not a bookmark!' } })).status).toBe(200);
  });

  it('a record a replica does not have yet is read from the primary before the answer is a 404', async () => {
    const file = await uploadFile({ name: 'lag.txt', data: 'x' });
    const row = { id: file.id, privateHash: file.private_hash } as unknown as FileRow;
    const replica = { get: async () => undefined, getByPrivateHash: async () => undefined } as unknown as FilesRepository;
    const primaryRepo = { get: async (id: string) => (id === row.id ? row : undefined), getByPrivateHash: async (h: string) => (h === row.privateHash ? row : undefined) } as unknown as FilesRepository;
    const deps = { repo: replica, primary: primaryRepo } as unknown as FilesDeps;
    expect(await requireFile(deps, file.id)).toBe(row);
    expect(await fileByPrivateHash(deps, file.private_hash as string)).toBe(row);
    await expect(requireFile({ ...deps, primary: undefined }, file.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
