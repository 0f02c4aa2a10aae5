import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { app } from '../../src/app';
import { readDimensions } from '../../src/images/dimensions';
import { ADMIN_TOKEN, api, errorOf, type FileJson, fixture, form, testClient, uploadFile } from '../helpers';
import {
  gifWithFrame,
  webpWithBitstream,
  withFrameSize,
  withPrecision,
  withHuffmanId,
  withoutRestartMarkers,
  withQuantTable,
  withSampling,
  withScanTables,
  withSecondFrame,
  withSegmentLength,
} from './hostile-images';

/**
 * Hostile files through the whole Worker: every one ends in a 4xx with a stable code (never a 500,
 * never a hang), the size that is checked is the size that is decoded, the output is bounded, and
 * the next ordinary thumbnail is still answered.
 */
const client = testClient();

async function thumbnailOf(data: Uint8Array, name: string, query = 'width=100') {
  const file = await uploadFile({ name, data });
  const res = await api(`/assets/${file.id}?${query}`, { token: null });
  return { file, error: res.status === 200 ? { status: 200, code: undefined, message: '' } : await errorOf(res) };
}

async function ordinaryStillWorks(): Promise<void> {
  const file = await uploadFile({ name: 'ordinary.jpg', data: fixture('sampling-444.jpg') });
  const res = await api(`/assets/${file.id}?width=16&format=png`, { token: null });
  expect(res.status).toBe(200);
  const dims = readDimensions(new Uint8Array(await res.arrayBuffer()));
  expect(dims && 'width' in dims ? dims.width : 0).toBe(16);
}

describe('decoder header fields are validated (no endless loop, no trap)', () => {
  const gray = () => fixture('gray.jpg');
  const color = () => fixture('sampling-444.jpg');
  const forms: [string, () => Uint8Array][] = [
    ['sampling factors 0×0 (the reported hang)', () => withSampling(gray(), 0, 0x00)],
    ['horizontal sampling 0', () => withSampling(color(), 0, 0x01)],
    ['vertical sampling 0', () => withSampling(color(), 1, 0x10)],
    ['sampling factors 5×5', () => withSampling(color(), 1, 0x55)],
    ['48 blocks an MCU (T.81 allows 10)', () => withSampling(withSampling(withSampling(color(), 0, 0x44), 1, 0x44), 2, 0x44)],
    ['quantization table id 7', () => withQuantTable(color(), 0, 7)],
    ['scan Huffman tables 7', () => withScanTables(color(), 0, 0x77)],
    ['Huffman table id 9', () => withHuffmanId(color(), 0x19)],
    ['Huffman table class 2', () => withHuffmanId(color(), 0x20)],
    ['a quantization segment of length 1', () => withSegmentLength(color(), 0xdb, 1)],
    ['a Huffman segment running past the file', () => withSegmentLength(color(), 0xc4, 0xfff0)],
    ['restart markers that are not there', () => withoutRestartMarkers(fixture('restart-420.jpg'))],
  ];
  for (const [what, make] of forms) {
    it(`${what}: 422`, async () => {
      // 10 px wide: the 160×120 sources decode at 1/8, through the scaled decoder.
      const { error } = await thumbnailOf(make(), 'hostile.jpg', 'width=10');
      expect(error).toMatchObject({ status: 422, code: 'UNPROCESSABLE_IMAGE' });
      await ordinaryStillWorks();
    });
  }

  it('a 16000×16000 frame over a few hundred bytes of data is refused once the data runs out', async () => {
    // At 1/8 this is 2000×2000, within ASSETS_TRANSFORM_MAX_PIXELS: the header passes, the data cannot.
    const started = Date.now();
    const { file, error } = await thumbnailOf(withFrameSize(fixture('gray.jpg'), 16000, 16000), 'claims-large.jpg');
    expect(file.width).toBe(16000);
    expect(error).toMatchObject({ status: 422, code: 'UNPROCESSABLE_IMAGE' });
    expect(Date.now() - started).toBeLessThan(5000);
    await ordinaryStillWorks();
  });
});

describe('the size checked is the size decoded', () => {
  const forms: [string, () => Uint8Array, string][] = [
    ['a JPEG with a 64×64 frame and a second 32768×32768 one', () => withSecondFrame(fixture('sampling-444.jpg'), 32768, 32768), 'two.jpg'],
    ['a JPEG with a second, progressive frame', () => withSecondFrame(fixture('sampling-444.jpg'), 30000, 30000, 0xc2), 'two.jpg'],
    ['a JPEG with a second frame of the same size', () => withSecondFrame(fixture('sampling-444.jpg'), 64, 64), 'two.jpg'],
    ['a 10×10 GIF with an 8000×8000 frame', () => gifWithFrame([10, 10], [8000, 8000]), 'frame.gif'],
    ['a 10×10 GIF with a 3000×3000 frame', () => gifWithFrame([10, 10], [3000, 3000]), 'frame.gif'],
    ['a 10×10 WebP canvas over an 8000×8000 bitstream', () => webpWithBitstream([10, 10], [8000, 8000]), 'canvas.webp'],
    // Every JPEG is decoded at the scale that was checked (libjpeg-turbo scales progressive and
    // 12-bit frames too: there is no full-size fallback); even 1/8 of this is past the limit.
    ['a 12-bit 32000×32000 JPEG', () => withFrameSize(withPrecision(fixture('gray.jpg'), 12), 32000, 32000), 'deep.jpg'],
  ];
  for (const [what, make, name] of forms) {
    it(`${what}: 422 before decoding`, async () => {
      const { error } = await thumbnailOf(make(), name);
      expect(error).toMatchObject({ status: 422, code: 'UNPROCESSABLE_IMAGE' });
      // Refused from the structure, not after a decode was tried (which is what costs the memory).
      expect(error.message).toMatch(/ASSETS_TRANSFORM_MAX_PIXELS|more than one frame header/);
      await ordinaryStillWorks();
    });
  }

  it('a 12-bit JPEG that would fit is refused by the 8-bit decoder with a 422, and nothing is damaged', async () => {
    const { error } = await thumbnailOf(withPrecision(fixture('gray.jpg'), 12), 'deep-small.jpg', 'width=10&format=png');
    expect(error).toMatchObject({ status: 422, code: 'UNPROCESSABLE_IMAGE' });
    expect(error.message).toMatch(/could not be decoded/);
    await ordinaryStillWorks();
  });

  it('an AVIF whose ispe says 50×50 over a 5000×5000 AV1 frame fails inside its capped heap: a 422, and the next AVIF decodes', async () => {
    const big = fixture('generated-25mp.avif');
    expect(readDimensions(big)).toMatchObject({ format: 'avif', width: 5000, height: 5000 });
    // As it is, 25 MP is past the budget and refused from its header.
    const honest = await thumbnailOf(big, 'honest.avif', 'width=10&format=png');
    expect(honest.error).toMatchObject({ status: 422, message: expect.stringMatching(/ASSETS_TRANSFORM_MAX_PIXELS/) });
    const lying = big.slice();
    const at = Buffer.from(lying).indexOf('ispe');
    new DataView(lying.buffer).setUint32(at + 8, 50);
    new DataView(lying.buffer).setUint32(at + 12, 50);
    const { error } = await thumbnailOf(lying, 'lying.avif', 'width=10&format=png');
    // Its frame's allocation fails in the capped heap (test-node/avif-heap.test.ts measures the memory).
    expect(error).toMatchObject({ status: 422, code: 'UNPROCESSABLE_IMAGE', message: expect.stringMatching(/could not be decoded/) });
    expect((await thumbnailOf(fixture('generated.avif'), 'fine.avif', 'width=10&format=png')).error.status).toBe(200);
    await ordinaryStillWorks();
  });

  it('a GIF frame inside its screen is transformed', async () => {
    const { error } = await thumbnailOf(fixture('anim.gif'), 'fine.gif', 'width=10&format=png');
    expect(error.status).toBe(200);
  });
});

describe('the output is bounded too', () => {
  const forms: [string, string][] = [
    ['5999×5999 PNG of a 64×48 image', 'width=5999&height=5999&format=png'],
    ['height alone, the width following the aspect', 'height=6000'],
    ['outside, growing the long side', 'width=6000&height=10&fit=outside'],
    ['cover of a wide box, before the crop', 'width=6000&height=5000&fit=cover'],
  ];
  for (const [what, query] of forms) {
    it(`${what}: 400 INVALID_QUERY`, async () => {
      const { error } = await thumbnailOf(fixture('photo-meta.jpg'), 'small.jpg', query);
      expect(error).toMatchObject({ status: 400, code: 'INVALID_QUERY' });
      expect(error.message).toMatch(/transforms make at most 4000000 pixels \(ASSETS_TRANSFORM_MAX_PIXELS\)/);
    });
  }

  it('an enlargement within the bound is made', async () => {
    const file = await uploadFile({ name: 'small.jpg', data: fixture('photo-meta.jpg') });
    const res = await api(`/assets/${file.id}?width=2000`, { token: null });
    expect(res.status).toBe(200);
    const dims = readDimensions(new Uint8Array(await res.arrayBuffer()));
    expect(dims && 'width' in dims ? [dims.width, dims.height] : []).toEqual([2000, 1500]);
  });
});

describe('ASSETS_TRANSFORM_MAX_VARIANTS', () => {
  const vars = { ...env, ASSETS_TRANSFORM_MAX_VARIANTS: '3' };
  const get = (id: string, query: string) => app.request(`/assets/${id}?${query}`, {}, vars);
  // Derivatives only: a refusal is remembered beside them (generated/<id>/<hash>.refused).
  const stored = async (id: string) => (await client.listObjects({ prefix: `generated/${id}/` })).objects.length;

  it('bounds the ad-hoc variants one file collects; made ones, presets and new bytes are not refused', async () => {
    const file: FileJson = await uploadFile({ name: 'variants.jpg', data: fixture('sampling-444.jpg') });
    for (const width of [10, 11]) expect((await get(file.id, `width=${width}`)).status).toBe(200);
    // A refused render is remembered like a derivative (generated/<id>/<hash>.refused), so it takes
    // its place in the budget: otherwise each refused size would be one more object, without bound.
    expect((await get(file.id, 'height=5000&format=png')).status).toBe(400);
    const refused = await get(file.id, 'width=13');
    expect(await errorOf(refused)).toMatchObject({ status: 403, code: 'ILLEGAL_ASSET_TRANSFORMATION' });
    const forms = ['width=13&format=png', 'height=9', 'width=10&quality=79', 'width=10&fit=inside&height=10', 'height=5001&format=png'];
    for (const query of forms) expect((await get(file.id, query)).status, query).toBe(403);
    expect(await stored(file.id)).toBeLessThanOrEqual(3);
    // The refusal made within the budget is still answered.
    expect((await get(file.id, 'height=5000&format=png')).status).toBe(400);

    // A variant already made is served; a preset does not count.
    expect((await get(file.id, 'width=11')).status).toBe(200);
    const key = `v${crypto.randomUUID().slice(0, 8)}`;
    const settings = await api('/settings', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ storage_asset_presets: [{ key, width: 20 }] }) });
    expect(settings.status).toBe(200);
    expect((await get(file.id, `key=${key}`)).status).toBe(200);

    // New bytes start a new set.
    const replaced = await app.request(`/files/${file.id}`, { method: 'PATCH', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: form([{ name: 'v2.jpg', data: fixture('gray.jpg') }]) }, vars);
    expect(replaced.status).toBe(200);
    expect((await get(file.id, 'width=13')).status).toBe(200);
  });
});
