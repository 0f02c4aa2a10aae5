import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { readDimensions } from '../src/images/dimensions.ts';
import { transformImage } from '../src/images/pipeline.ts';
import { resolveTransform } from '../src/images/transform.ts';

/**
 * 12 MP WebP and AVIF sources (phone and camera sizes) against sharp: the frame is reduced as it
 * leaves the decoder's heap (src/images/heap-frame.ts), so a 400 px thumbnail of a 12 MP lossy WebP
 * fits the 4 MP budget; what cannot fit is a 422 naming its numbers.
 */
const photo = (w: number, h: number) =>
  sharp({ create: { width: w, height: h, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
    .blur(8)
    .png()
    .toBuffer();

function render(bytes: Uint8Array, query: string, maxPixels = 4_000_000) {
  const header = readDimensions(bytes);
  if (!header) throw new Error('no header');
  const settings = { storage_asset_transform: 'all', storage_asset_presets: [] };
  const t = resolveTransform(new URLSearchParams(query), { settings, maxDimension: 6000, maxOperations: 5, accept: null, sourceType: `image/${header.format}`, sourceWidth: null, sourceHeight: null, focalPointX: null, focalPointY: null } as never);
  return transformImage(bytes, header, t, maxPixels);
}

async function meanDifference(ours: Uint8Array, source: Buffer, width: number): Promise<number> {
  const a = await sharp(ours).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const b = await sharp(source).resize({ width }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  expect([a.info.width, a.info.height]).toEqual([b.info.width, b.info.height]);
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i]! - b.data[i]!);
  return sum / a.data.length;
}

describe('12 MP WebP and AVIF sources', () => {
  it('a 12 MP lossy WebP makes a 400 px thumbnail close to sharp', async () => {
    const source = await sharp(await photo(4000, 3000)).webp({ quality: 80 }).toBuffer();
    const out = await render(new Uint8Array(source), 'width=400&format=png');
    expect([out.width, out.height]).toEqual([400, 300]);
    expect(await meanDifference(out.body, source, 400)).toBeLessThan(3);
  }, 60_000);

  it('a 12 MP lossless WebP is refused at the default budget with its numbers, and decodes when the budget allows', async () => {
    const source = new Uint8Array(await sharp(await photo(4000, 3000)).webp({ lossless: true }).toBuffer());
    await expect(render(source, 'width=400&format=png')).rejects.toThrow(/4000×3000 \(lossless WebP\); its decoder needs [\d.]+ MiB \(10 bytes a pixel/);
    const out = await render(source, 'width=400&format=png', 7_000_000);
    expect([out.width, out.height]).toEqual([400, 300]);
    expect(await meanDifference(out.body, Buffer.from(source), 400)).toBeLessThan(3);
  }, 60_000);

  it('a 12 MP AVIF is refused with its numbers; a 6 MP AVIF (4:2:0) is thumbnailed close to sharp when the budget allows', async () => {
    const big = new Uint8Array(await sharp(await photo(4000, 3000)).avif({ quality: 50, chromaSubsampling: '4:2:0', effort: 0 }).toBuffer());
    await expect(render(big, 'width=400&format=png')).rejects.toThrow(/4000×3000 \(8-bit 4:2:0 AVIF\); its decoder needs [\d.]+ MiB/);
    const six = await sharp(await photo(3000, 2000)).avif({ quality: 50, chromaSubsampling: '4:2:0', effort: 0 }).toBuffer();
    const out = await render(new Uint8Array(six), 'width=400&format=png', 5_000_000);
    expect([out.width, out.height]).toEqual([400, 267]);
    expect(await meanDifference(out.body, six, 400)).toBeLessThan(3);
  }, 60_000);
});
