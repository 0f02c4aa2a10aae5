import sharp, { type Sharp } from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeTiff } from '../src/images/tiff.ts';
import { encodeTiff } from '../src/images/tiff-encode.ts';
import { readDimensions } from '../src/images/dimensions.ts';
import { exifOrientation } from '../src/images/orientation.ts';

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
  ['RGBA, deflate, first page of three', () => multiPage(3).tiff({ compression: 'deflate' })],
  ['RGB, LZW tiles, first page of two', () => multiPage(2).removeAlpha().tiff({ compression: 'lzw', tile: true, tileWidth: 32, tileHeight: 32 })],
  ['big-endian RGB, two strips', () => sharp(bigEndian(8))],
  ['big-endian RGB 16-bit, two strips', () => sharp(bigEndian(16))],
];

/** Pages of the same size, the first the gradient and the others a flat colour that would show if read. */
function multiPage(pages: number): Sharp {
  const raw = Buffer.alloc(W * H * 4 * pages, 200);
  const first = Buffer.alloc(W * H * 4);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) first.set([(x * 255) / W, (y * 255) / H, ((x + y) * 13) % 256, x < W / 2 ? 90 : 255], (y * W + x) * 4);
  }
  first.copy(raw);
  return sharp(raw, { raw: { width: W, height: H * pages, channels: 4, pageHeight: H } });
}

/** A Motorola-order (MM) uncompressed RGB TIFF written here, since libtiff writes the machine's order. */
function bigEndian(bits: 8 | 16): Buffer {
  const bytes = bits / 8;
  const rows = Math.ceil(H / 2);
  const data = Buffer.alloc(W * H * 3 * bytes);
  for (let i = 0; i < W * H * 3; i++) {
    const v = ((i * 37) % 251) * (bits === 16 ? 257 : 1);
    if (bits === 16) data.writeUInt16BE(v, 2 * i);
    else data[i] = v;
  }
  const strip = W * rows * 3 * bytes;
  const entries: [number, number, number[]][] = [
    [256, 4, [W]], [257, 4, [H]], [258, 3, [bits, bits, bits]], [259, 3, [1]], [262, 3, [2]],
    [273, 4, [0, 0]], [277, 3, [3]], [278, 4, [rows]], [279, 4, [strip, data.length - strip]],
  ];
  const ifd = 8 + data.length;
  const out = Buffer.alloc(ifd + 2 + 12 * entries.length + 4 + 64);
  out.write('MM', 0, 'latin1');
  out.writeUInt16BE(42, 2);
  out.writeUInt32BE(ifd, 4);
  data.copy(out, 8);
  (entries[5] as [number, number, number[]])[2] = [8, 8 + strip];
  out.writeUInt16BE(entries.length, ifd);
  let extra = ifd + 2 + 12 * entries.length + 4;
  entries.forEach(([tag, type, values], k) => {
    const e = ifd + 2 + 12 * k;
    const size = type === 3 ? 2 : 4;
    out.writeUInt16BE(tag, e);
    out.writeUInt16BE(type, e + 2);
    out.writeUInt32BE(values.length, e + 4);
    let at = e + 8;
    if (values.length * size > 4) {
      out.writeUInt32BE(extra, e + 8);
      at = extra;
      extra += values.length * size;
    }
    for (const v of values) {
      if (size === 2) out.writeUInt16BE(v, at);
      else out.writeUInt32BE(v, at);
      at += size;
    }
  });
  return out;
}

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

describe('format=tiff (encodeTiff) read back by libvips', () => {
  for (const [name, make, channels] of [
    ['RGBA with transparency', () => source(), 4],
    ['opaque: written as RGB', () => source().removeAlpha().ensureAlpha(), 3],
    ['one row taller than a strip', () => source(700, 100), 4],
  ] as [string, () => Sharp, number][]) {
    it(name, async () => {
      const { data, info } = await make().raw().toBuffer({ resolveWithObject: true });
      const file = await encodeTiff(new Uint8Array(data), info.width, info.height);
      const read = await sharp(file).raw().toBuffer({ resolveWithObject: true });
      expect(read.info).toMatchObject({ width: info.width, height: info.height, channels });
      const theirs = channels === 4 ? read.data : await sharp(file).ensureAlpha().raw().toBuffer();
      expect(worstDifference(new Uint8Array(theirs), new Uint8Array(data))).toBe(0);
      // Compressed: well under the raw samples.
      expect(file.length).toBeLessThan((info.width * info.height * channels) / 2);
      // And our own decoder reads what our encoder writes.
      expect(worstDifference((await decodeTiff(file)).data, new Uint8Array(data))).toBe(0);
    });
  }
});

describe('TIFF orientation', () => {
  it("a TIFF's Orientation tag (274, in its own directory) is read as a JPEG's EXIF one is, wherever the directory is", async () => {
    for (const [width, height] of [[W, H], [1200, 800]]) {
      const file = await source(width, height).removeAlpha().withMetadata({ orientation: 6 }).tiff({ compression: 'none' }).toBuffer();
      expect(exifOrientation(new Uint8Array(file)), `${width}×${height}`).toBe(6);
    }
  });
});
