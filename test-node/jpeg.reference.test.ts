import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { lumaSsim, type Raw } from '../scripts/ssim.ts';
import { readDimensions } from '../src/images/dimensions.ts';
import { transformImage } from '../src/images/pipeline.ts';
import { resolveTransform } from '../src/images/transform.ts';

/**
 * JPEG thumbnails against sharp (libjpeg-turbo, what Directus runs) on real photos (CC0 and public
 * domain, test/fixtures/photos): each pipeline's JPEG is scored by luma SSIM against its own lossless
 * resize, so the resize filters do not count. At sharp's q50, q80 and q90, ours must reach sharp's
 * SSIM (less SSIM_SLACK) in no more bytes, at the same quality or the next few up, and the same
 * `quality` must land near sharp's SSIM: the scale is libjpeg's.
 */
const SSIM_SLACK = 0.002;
/** How far our SSIM at sharp's own quality may be from sharp's: measured 0.0015–0.0065 on these photos. */
const SAME_QUALITY_SSIM = 0.01;
const PHOTOS = join(import.meta.dirname, '..', 'test', 'fixtures', 'photos');

async function raw(bytes: Uint8Array | Buffer): Promise<Raw & { info: sharp.OutputInfo }> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height, channels: info.channels, info };
}

async function ours(source: Uint8Array, query: string): Promise<Uint8Array> {
  const header = readDimensions(source);
  if (!header || 'needBytes' in header) throw new Error('no header');
  const settings = { storage_asset_transform: 'all' as const, storage_asset_presets: [] };
  const t = resolveTransform(new URLSearchParams(query), { settings, maxDimension: 6000, maxOperations: 5, accept: null, sourceType: `image/${header.format}`, sourceWidth: null, sourceHeight: null, focalPointX: null, focalPointY: null });
  return (await transformImage(source, header, t, 4_000_000)).body;
}

const cases: [string, number][] = [
  ['coffee', 400],
  ['astronaut', 400],
  ['chelsea', 400],
  ['retina', 800],
];

describe('JPEG bytes at equal SSIM against sharp', () => {
  for (const [photo, width] of cases) {
    it(`${photo} at ${width} px, q50/q80/q90: no more bytes than sharp for its SSIM`, async () => {
      const source = new Uint8Array(readFileSync(join(PHOTOS, `${photo}.jpg`)));
      const sharpRef = await raw(await sharp(source).resize(width).png().toBuffer());
      const oursRef = await raw(await ours(source, `width=${width}&format=png`));
      for (const quality of [50, 80, 90]) {
        const theirs = await sharp(source).resize(width).jpeg({ quality }).toBuffer();
        const target = lumaSsim(sharpRef, await raw(theirs));
        let q = quality;
        let mine = await ours(source, `width=${width}&format=jpg&quality=${q}`);
        let ssim = lumaSsim(oursRef, await raw(mine));
        const label = `${photo} ${width} q${quality}: sharp ${theirs.byteLength} B at SSIM ${target.toFixed(4)}, ours ${mine.byteLength} B at ${ssim.toFixed(4)}`;
        expect(Math.abs(ssim - target), label).toBeLessThan(SAME_QUALITY_SSIM);
        while (ssim < target - SSIM_SLACK && q < quality + 8) {
          q += 2;
          mine = await ours(source, `width=${width}&format=jpg&quality=${q}`);
          ssim = lumaSsim(oursRef, await raw(mine));
        }
        expect(ssim, `${label}; reached ${ssim.toFixed(4)} at q${q}`).toBeGreaterThanOrEqual(target - SSIM_SLACK);
        expect(mine.byteLength, `${label}; ${mine.byteLength} B at q${q}`).toBeLessThanOrEqual(theirs.byteLength);
      }
    });
  }
});

describe('JPEG form: what a decoder reads', () => {
  const text = `<svg width="400" height="120" xmlns="http://www.w3.org/2000/svg"><rect width="100%" height="100%" fill="#ffe040"/><text x="10" y="60" font-size="36" font-family="sans-serif" fill="#1030e0">Sale 50% off today</text><text x="10" y="100" font-size="18" font-family="sans-serif" fill="#c00000">Red small text, blue link</text></svg>`;

  it('a photo thumbnail is 4:2:0 and progressive; coloured text keeps 4:4:4; small and large outputs are sequential', async () => {
    const coffee = new Uint8Array(readFileSync(join(PHOTOS, 'coffee.jpg')));
    const photo = await sharp(await ours(coffee, 'width=400&format=jpg')).metadata();
    expect([photo.chromaSubsampling, photo.isProgressive]).toEqual(['4:2:0', true]);
    const small = await sharp(await ours(coffee, 'width=200&format=jpg')).metadata();
    expect(small.isProgressive).toBe(false);
    const retina = new Uint8Array(readFileSync(join(PHOTOS, 'retina.jpg')));
    const large = await sharp(await ours(retina, 'width=1000&format=jpg')).metadata();
    expect([large.chromaSubsampling, large.isProgressive]).toEqual(['4:2:0', false]);
    const png = new Uint8Array(await sharp(Buffer.from(text)).png().toBuffer());
    const graphic = await sharp(await ours(png, 'width=400&format=jpg')).metadata();
    expect(graphic.chromaSubsampling).toBe('4:4:4');
  });
});
