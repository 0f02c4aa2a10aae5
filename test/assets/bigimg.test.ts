import { describe, expect, it } from 'vitest';
import { readDimensions } from '../../src/images/dimensions';
import { api, errorOf, fixture, uploadFile } from '../helpers';

/**
 * 12 MP WebP and AVIF sources (phone and camera sizes) over HTTP at the default budget
 * (ASSETS_TRANSFORM_MAX_PIXELS 4 MP, 96 MiB): a lossy WebP's frame is reduced as it leaves libwebp's
 * heap, so its thumbnail is served; a lossless WebP and an AVIF need more heap than the budget and
 * are refused with the numbers, their originals still served. The fixtures are made in
 * test/global-setup.ts from a 4032×3024 gradient.
 */
async function thumbnail(data: Uint8Array, name: string, query: string) {
  const file = await uploadFile({ name, data });
  const res = await api(`/assets/${file.id}?${query}`, { token: null });
  if (res.status !== 200) return { file, status: res.status, error: await errorOf(res), dims: undefined };
  const size = readDimensions(new Uint8Array(await res.arrayBuffer()));
  return { file, status: 200, error: undefined, dims: size && 'width' in size ? [size.width, size.height] : undefined };
}

async function originalServed(id: string, data: Uint8Array): Promise<void> {
  const res = await api(`/assets/${id}`, { token: null });
  expect(res.status).toBe(200);
  expect(new Uint8Array(await res.arrayBuffer())).toEqual(data);
}

/** `webp` (a simple lossy file: one VP8 chunk) with a VP8X chunk declaring a `width`×`height` canvas. */
function withCanvas(webp: Uint8Array, width: number, height: number): Uint8Array {
  const le = (n: number, bytes: number) => Array.from({ length: bytes }, (_, k) => (n >>> (8 * k)) & 255);
  const chunks = [...new TextEncoder().encode('VP8X'), ...le(10, 4), 0, 0, 0, 0, ...le(width - 1, 3), ...le(height - 1, 3), ...webp.subarray(12)];
  return new Uint8Array([...new TextEncoder().encode('RIFF'), ...le(chunks.length + 4, 4), ...new TextEncoder().encode('WEBP'), ...chunks]);
}

describe('12 MP WebP and AVIF sources', () => {
  it('a 12 MP lossy WebP is thumbnailed', async () => {
    const data = fixture('generated-12mp.webp');
    expect(readDimensions(data)).toMatchObject({ format: 'webp', width: 4032, height: 3024 });
    for (const [query, dims] of [
      ['width=400&format=jpg', [400, 300]],
      ['width=200&height=200&fit=cover&format=png', [200, 200]],
    ] as const) {
      const out = await thumbnail(data, 'phone.webp', query);
      expect([out.status, out.dims], query).toEqual([200, dims]);
    }
  }, 60_000);

  for (const [what, name, message] of [
    ['a 12 MP lossless WebP', 'generated-12mp-lossless.webp', /4032×3024 \(lossless WebP\); its decoder needs [\d.]+ MiB \(10 bytes a pixel.*limited to 91\.6 MiB/],
    ['a 12 MP AVIF', 'generated-12mp.avif', /4032×3024 \(8-bit 4:2:0 AVIF\); its decoder needs [\d.]+ MiB \([\d.]+ bytes a pixel.*limited to 91\.6 MiB/],
  ] as const) {
    it(`${what} is refused with 422 naming the memory it needs, and its original is still served`, async () => {
      const data = fixture(name);
      const out = await thumbnail(data, name, 'width=400&format=jpg');
      expect(out.error).toMatchObject({ status: 422, code: 'UNPROCESSABLE_IMAGE', message: expect.stringMatching(message) });
      await originalServed(out.file.id, data);
    }, 60_000);
  }

  it('a WebP whose canvas says 100×75 over the 12 MP frame is refused, and the next WebP is thumbnailed', async () => {
    const data = fixture('generated-12mp.webp');
    const lying = withCanvas(data, 100, 75);
    expect(readDimensions(lying)).toMatchObject({ format: 'webp', width: 100, height: 75 });
    const out = await thumbnail(lying, 'lying.webp', 'width=50&format=png');
    expect(out.error).toMatchObject({ status: 422, code: 'UNPROCESSABLE_IMAGE' });
    expect((await thumbnail(fixture('image.webp'), 'fine.webp', 'width=20&format=png')).dims).toEqual([20, 15]);
  }, 60_000);

  it('an AVIF whose ispe says 2000×1500 over the 12 MP frame fails in the heap counted for 3 MP: 422, and the next AVIF decodes', async () => {
    const lying = fixture('generated-12mp.avif').slice();
    const at = new TextDecoder('latin1').decode(lying).indexOf('ispe');
    new DataView(lying.buffer).setUint32(at + 8, 2000);
    new DataView(lying.buffer).setUint32(at + 12, 1500);
    expect(readDimensions(lying)).toMatchObject({ format: 'avif', width: 2000, height: 1500 });
    const out = await thumbnail(lying, 'lying.avif', 'width=50&format=png');
    expect(out.error).toMatchObject({ status: 422, code: 'UNPROCESSABLE_IMAGE' });
    expect((await thumbnail(fixture('generated.avif'), 'fine.avif', 'width=40&format=png')).dims).toEqual([40, 30]);
  }, 60_000);
});
