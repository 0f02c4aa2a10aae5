import sharp, { type Sharp } from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeTiff } from '../src/images/tiff.ts';
import { readDimensions } from '../src/images/dimensions.ts';

/**
 * The TIFF decoder against libvips (sharp) on files sharp writes: every compression, strips and
 * tiles, predictors, 8 and 16 bits, grey, RGB and RGBA, both byte orders, must decode to libvips's
 * pixels (JPEG within a small difference: their upsampling differs).
 */
const W = 77;
const H = 53;

/** A gradient with a transparent quarter, at odd sizes so strips and tiles end part-way. */
function source(width = W, height = H): Sharp {
  const raw = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      raw[i] = (x * 255) / width;
      raw[i + 1] = (y * 255) / height;
      raw[i + 2] = ((x + y) * 13) % 256;
      raw[i + 3] = x < width / 4 ? 0 : x < width / 2 ? 128 : 255;
    }
  }
  return sharp(raw, { raw: { width, height, channels: 4 } });
}

async function reference(file: Buffer): Promise<Uint8Array> {
  const { data } = await sharp(file).ensureAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return new Uint8Array(data);
}

function worstDifference(a: Uint8Array, b: Uint8Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

const rgb = () => source().removeAlpha();
const cases: [string, () => Sharp, number?][] = [
  ['RGBA, uncompressed strips', () => source().tiff({ compression: 'none' })],
  ['RGB, uncompressed strips', () => rgb().tiff({ compression: 'none' })],
  ['RGBA, LZW', () => source().tiff({ compression: 'lzw' })],
  ['RGB, LZW, horizontal predictor', () => rgb().tiff({ compression: 'lzw', predictor: 'horizontal' })],
  ['RGBA, deflate', () => source().tiff({ compression: 'deflate' })],
  ['RGB, deflate, horizontal predictor', () => rgb().tiff({ compression: 'deflate', predictor: 'horizontal' })],
  ['RGBA, PackBits', () => source().tiff({ compression: 'packbits' })],
  ['grey, LZW', () => rgb().grayscale().tiff({ compression: 'lzw' })],
  ['grey + alpha, deflate', () => source().grayscale().tiff({ compression: 'deflate' })],
  ['grey 4-bit, PackBits', () => rgb().grayscale().tiff({ compression: 'packbits', bitdepth: 4 })],
  ['grey 1-bit', () => rgb().grayscale().tiff({ compression: 'none', bitdepth: 1 })],
  ['RGBA, 16×16 tiles, deflate', () => source().tiff({ compression: 'deflate', tile: true, tileWidth: 16, tileHeight: 16 })],
  ['RGB, 32×16 tiles, LZW, predictor', () => rgb().tiff({ compression: 'lzw', predictor: 'horizontal', tile: true, tileWidth: 32, tileHeight: 16 })],
  ['RGBA, 64×64 tiles, uncompressed', () => source().tiff({ compression: 'none', tile: true, tileWidth: 64, tileHeight: 64 })],
  ['RGB 16-bit, deflate', () => rgb().toColourspace('rgb16').tiff({ compression: 'deflate' })],
  ['RGBA 16-bit, LZW, predictor', () => source().toColourspace('rgb16').tiff({ compression: 'lzw', predictor: 'horizontal' })],
  ['grey 16-bit, tiles', () => rgb().toColourspace('grey16').tiff({ compression: 'none', tile: true, tileWidth: 16, tileHeight: 32 })],
  ['RGB, JPEG strips', () => rgb().tiff({ compression: 'jpeg', quality: 90 }), 6],
  ['RGB, JPEG 64×64 tiles', () => rgb().tiff({ compression: 'jpeg', quality: 90, tile: true, tileWidth: 64, tileHeight: 64 }), 6],
  ['grey, JPEG strips', () => rgb().grayscale().tiff({ compression: 'jpeg', quality: 90 }), 6],
];

describe('decodeTiff against libvips', () => {
  for (const [name, make, tolerance = 0] of cases) {
    it(name, async () => {
      const file = await make().toBuffer();
      const ours = await decodeTiff(new Uint8Array(file));
      const theirs = await reference(file);
      expect([ours.width, ours.height]).toEqual([W, H]);
      expect(worstDifference(ours.data, theirs)).toBeLessThanOrEqual(tolerance);
      expect(readDimensions(new Uint8Array(file))).toEqual({ format: 'tiff', width: W, height: H });
    });
  }
});
