import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { app } from '../../src/app';
import { api, errorOf, type FileJson, fixture, form, testClient, uploadFile } from '../helpers';
import { withFrameSize } from './hostile-images';

/**
 * A refusal from the engine is remembered like a derivative, per file and variant: the second
 * request for the same hostile URL gets the same error without the source being read (here: the
 * source is deleted from storage in between, and the answer is still the refusal, not a 404).
 * A change to the file, or to the limits it was refused under, makes it be tried again; a storage
 * failure or a missing object is never remembered.
 */
const client = testClient();
const ops = (...list: unknown[]) => `transforms=${encodeURIComponent(JSON.stringify(list))}`;
/** Past the default work budget: five sharpen 10 on 2300×1725. */
const OVER_BUDGET = `width=2300&format=png&${ops(...Array.from({ length: 5 }, () => ['sharpen', 10]))}`;
/** A JPEG whose frame claims 16000×16000 over a few hundred bytes: refused once its data runs out. */
const hostileJpeg = () => withFrameSize(fixture('gray.jpg'), 16000, 16000);

const anonymous = (file: FileJson, query: string, headers: Record<string, string> = {}) => api(`/assets/${file.id}?${query}`, { token: null, headers });
const dropSource = (file: FileJson) => client.deleteObject(file.filename_disk);
const refusals = async (file: FileJson) => (await client.listObjects({ prefix: `generated/${file.id}/` })).objects.filter((o) => o.key.endsWith('.refused'));
/** The refusal is stored after the answer (`waitUntil`): waited for, so the next request finds it. */
const remembered = (file: FileJson) => expect.poll(async () => (await refusals(file)).length).toBe(1);

describe('a refusal costs once', () => {
  it('a transform past the work budget: the second request is answered without the source', async () => {
    const file = await uploadFile({ name: 'budget.jpg', data: fixture('sampling-444.jpg') });
    const first = await errorOf(await anonymous(file, OVER_BUDGET));
    expect(first).toMatchObject({ status: 400, code: 'INVALID_QUERY' });
    await remembered(file);
    await dropSource(file);
    expect(await errorOf(await anonymous(file, OVER_BUDGET))).toEqual(first);
  });

  it('an undecodable image through an anonymous system preset: the same 422, without the source', async () => {
    const file = await uploadFile({ name: 'claims-large.jpg', data: hostileJpeg() });
    const first = await errorOf(await anonymous(file, 'key=system-large-contain'));
    expect(first).toMatchObject({ status: 422, code: 'UNPROCESSABLE_IMAGE' });
    await remembered(file);
    await dropSource(file);
    for (let i = 0; i < 3; i++) expect(await errorOf(await anonymous(file, 'key=system-large-contain'))).toEqual(first);
  });

  it('past the edge, from storage: another variant of the same derivative finds the stored refusal', async () => {
    const file = await uploadFile({ name: 'claims-large.jpg', data: hostileJpeg() });
    // An explicit format: Accept changes the edge variant, not the derivative.
    const first = await errorOf(await anonymous(file, 'width=300&format=png', { accept: 'image/webp' }));
    expect(first).toMatchObject({ status: 422, code: 'UNPROCESSABLE_IMAGE' });
    await remembered(file);
    await dropSource(file);
    expect(await errorOf(await anonymous(file, 'width=300&format=png', { accept: 'image/avif' }))).toEqual(first);
    expect(await errorOf(await api(`/assets/${file.id}?width=300&format=png`))).toEqual(first);
  });

  it('replacing the file forgets its refusals; so does a new focal point for a cover crop', async () => {
    const file = await uploadFile({ name: 'claims-large.jpg', data: hostileJpeg() });
    expect((await anonymous(file, 'key=system-medium-cover')).status).toBe(422);
    const replaced = await api(`/files/${file.id}`, { method: 'PATCH', body: form([{ name: 'good.jpg', data: fixture('sampling-444.jpg') }]) });
    expect(replaced.status, await replaced.clone().text()).toBe(200);
    expect((await anonymous(file, 'key=system-medium-cover')).status).toBe(200);

    const other = await uploadFile({ name: 'budget.jpg', data: fixture('sampling-444.jpg') });
    const cover = `${OVER_BUDGET}&height=1725&fit=cover`;
    expect((await anonymous(other, cover)).status).toBe(400);
    const moved = await api(`/files/${other.id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ focal_point_x: 10, focal_point_y: 10 }) });
    expect(moved.status, await moved.clone().text()).toBe(200);
    // Tried again: the source is read, and it is gone now.
    await dropSource(other);
    expect(await errorOf(await anonymous(other, cover))).toMatchObject({ status: 404, code: 'NOT_FOUND' });
  });

  it('a refusal made under other limits is tried again', async () => {
    const file = await uploadFile({ name: 'budget.jpg', data: fixture('sampling-444.jpg') });
    const query = `width=600&format=png&${ops(...Array.from({ length: 5 }, () => ['sharpen', 10]))}`;
    const strict = { ...env, ASSETS_TRANSFORM_MAX_PASSES: '1' };
    expect((await errorOf(await app.request(`/assets/${file.id}?${query}`, { headers: { accept: 'image/webp' } }, strict))).status).toBe(400);
    await remembered(file);
    // The stored refusal was made under ASSETS_TRANSFORM_MAX_PASSES=1; today's default allows this.
    expect((await anonymous(file, query)).status).toBe(200);
  });

  it('a missing object or a storage failure is never remembered; the engine answer after it is', async () => {
    const file = await uploadFile({ name: 'budget.jpg', data: fixture('sampling-444.jpg') });
    const bytes = await client.readBytes(file.filename_disk);
    await dropSource(file);
    expect(await errorOf(await anonymous(file, OVER_BUDGET))).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    const broken = { ...env, STORAGE_LOCAL_ENDPOINT: 'http://127.0.0.1:9' };
    const failed = await app.request(`/assets/${file.id}?${OVER_BUDGET}`, {}, broken);
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect((await errorOf(failed)).code).toMatch(/^STORAGE_/);

    await client.putObject(file.filename_disk, bytes as Uint8Array, { contentType: 'image/jpeg', contentLength: (bytes as Uint8Array).byteLength });
    const refused = await errorOf(await anonymous(file, OVER_BUDGET));
    expect(refused).toMatchObject({ status: 400, code: 'INVALID_QUERY' });
    await remembered(file);
    await dropSource(file);
    expect(await errorOf(await anonymous(file, OVER_BUDGET))).toEqual(refused);
  });
});
