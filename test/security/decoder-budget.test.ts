import { describe, expect, it } from 'vitest';
import { api, errorOf, fixture, uploadFile } from '../helpers';
import { pngWithHeader, withEmptyScans, withFrameSize, type PngShape } from './hostile-images';

/**
 * The decoders' work budget, over HTTP as an anonymous visitor asks for a system thumbnail (allowed
 * whatever storage_asset_transform says; a `contain` one, as a `cover` of these shapes is past the
 * output bound already) or, for a tall source, a height: a source whose dimensions, rows or scans would cost more
 * than the budget is refused from its headers with a 422 that names the limit, before the decoder
 * allocates or runs anything sized by them. The old decoders allocated row buffers and maps sized by
 * a 100,000,000-pixel width (+2.3 GB) and ran 10,000 empty JPEG scans (10–15 s) before answering.
 */
const json = { 'content-type': 'application/json' };

async function thumbnail(data: Uint8Array, name: string, query = 'key=system-small-contain') {
  const file = await uploadFile({ name, data });
  const res = await api(`/assets/${file.id}?${query}`, { token: null });
  return { file, error: await errorOf(res) };
}

/** Nothing stored is lost: the original is still served as it was uploaded. */
async function originalIntact(id: string, data: Uint8Array): Promise<void> {
  const res = await api(`/assets/${id}`, { token: null });
  expect(res.status).toBe(200);
  expect(new Uint8Array(await res.arrayBuffer())).toEqual(data);
}

describe('PNG: memory from each dimension, work from rows', () => {
  // Past the memory budget from the width alone (rows, RGBA line and column maps are sized by it).
  const wide: [string, PngShape][] = [
    ['100,000,000×1, 16-bit RGBA (the report)', { width: 100_000_000, height: 1, depth: 16, colorType: 6 }],
    ['100,000,000×1, 8-bit grey', { width: 100_000_000, height: 1, depth: 8, colorType: 0 }],
    ['100,000,000×1, 1-bit palette', { width: 100_000_000, height: 1, depth: 1, colorType: 3 }],
    ['20,000,000×5, 8-bit RGBA, interlaced', { width: 20_000_000, height: 5, depth: 8, colorType: 6, interlace: 1 }],
  ];
  for (const [what, shape] of wide) {
    it(`${what}: 422 naming ASSETS_TRANSFORM_MAX_PIXELS, and the original is intact`, async () => {
      const data = pngWithHeader(shape);
      const { file, error } = await thumbnail(data, 'wide.png');
      expect(error).toMatchObject({ status: 422, code: 'UNPROCESSABLE_IMAGE' });
      expect(error.message).toMatch(/ASSETS_TRANSFORM_MAX_PIXELS/);
      await originalIntact(file.id, data);
    });
  }

  // Within 100 MP and the memory budget, but a row's fixed cost times 1e6–1e8 rows is past the work limit.
  const tall: [string, PngShape][] = [
    ['1×100,000,000, 16-bit RGBA', { width: 1, height: 100_000_000, depth: 16, colorType: 6 }],
    ['1×100,000,000, 8-bit grey, interlaced', { width: 1, height: 100_000_000, depth: 8, colorType: 0, interlace: 1 }],
    ['1×3,500,000, 8-bit grey', { width: 1, height: 3_500_000, depth: 8, colorType: 0 }],
    ['28×3,500,000, 1-bit palette', { width: 28, height: 3_500_000, depth: 1, colorType: 3 }],
  ];
  for (const [what, shape] of tall) {
    it(`${what}: 422 naming the PNG decode limit`, async () => {
      const { error } = await thumbnail(pngWithHeader(shape), 'tall.png', 'height=64');
      expect(error).toMatchObject({ status: 422, code: 'UNPROCESSABLE_IMAGE' });
      expect(error.message).toMatch(/past the PNG decode limit of 816777216/);
    });
  }

  it('with storage_asset_transform=none too (system thumbnails are always allowed)', async () => {
    expect((await api('/settings', { method: 'PATCH', headers: json, body: JSON.stringify({ storage_asset_transform: 'none' }) })).status).toBe(200);
    try {
      for (const key of ['system-small-contain', 'system-large-contain']) {
        const { error } = await thumbnail(pngWithHeader({ width: 100_000_000, height: 1, depth: 16 }), 'wide.png', `key=${key}`);
        expect(error).toMatchObject({ status: 422, message: expect.stringMatching(/ASSETS_TRANSFORM_MAX_PIXELS/) });
      }
    } finally {
      await api('/settings', { method: 'PATCH', headers: json, body: JSON.stringify({ storage_asset_transform: 'all' }) });
    }
  });
});

describe('JPEG: the scans libjpeg would run are counted first', () => {
  const forms: [string, () => Uint8Array, RegExp][] = [
    ['a progressive file with 600 empty scans', () => withEmptyScans(fixture('progressive.jpg'), 600), /limited to 500 scans/],
    ['a 4000×4000 progressive frame with 150 empty scans', () => withEmptyScans(withFrameSize(fixture('progressive.jpg'), 4000, 4000, 0xc2), 150), /33554432 block visits/],
    ['a 2000×2000 progressive frame with 400 empty scans', () => withEmptyScans(withFrameSize(fixture('progressive.jpg'), 2000, 2000, 0xc2), 400), /33554432 block visits/],
    ['a baseline file with 600 extra scans', () => withEmptyScans(fixture('sampling-444.jpg'), 600, 0xc0), /limited to 500 scans/],
  ];
  for (const [what, make, limit] of forms) {
    it(`${what}: 422 naming the limit, and the original is intact`, async () => {
      const data = make();
      const { file, error } = await thumbnail(data, 'scans.jpg');
      expect(error).toMatchObject({ status: 422, code: 'UNPROCESSABLE_IMAGE' });
      expect(error.message).toMatch(limit);
      await originalIntact(file.id, data);
    });
  }

  it('an ordinary progressive file (its usual scans) is still a thumbnail', async () => {
    const file = await uploadFile({ name: 'fine.jpg', data: fixture('progressive.jpg') });
    expect((await api(`/assets/${file.id}?key=system-small-contain`, { token: null })).status).toBe(200);
  });
});
