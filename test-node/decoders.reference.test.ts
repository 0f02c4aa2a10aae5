import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp, { type Sharp } from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeGif } from '../src/images/gif.ts';
import { decodeJpeg } from '../src/images/jpeg-turbo.ts';
import { decodePng } from '../src/images/png.ts';

/**
 * The PNG and GIF decoders written here against libvips (sharp) on the same files: every PNG colour
 * type, bit depth and interlacing sharp writes must decode to the same pixels, and GIF frames to the
 * same colours where they are opaque. libjpeg-turbo in WebAssembly (every JPEG) is held to a small
 * mean difference from libvips's own libjpeg-turbo, since their upsampling and colour paths differ.
 */
const W = 37;
const H = 23;

/** A gradient with a transparent quarter: odd sizes, so packed rows and Adam7 passes are uneven. */
function source(): Sharp {
  const raw = Buffer.alloc(W * H * 4);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 4;
      raw[i] = (x * 255) / W;
      raw[i + 1] = (y * 255) / H;
      raw[i + 2] = ((x + y) * 13) % 256;
      raw[i + 3] = x < W / 4 ? 0 : x < W / 2 ? 128 : 255;
    }
  }
  return sharp(raw, { raw: { width: W, height: H, channels: 4 } });
}

async function reference(file: Buffer): Promise<Uint8Array> {
  const { data } = await sharp(file).ensureAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return new Uint8Array(data);
}

function worstDifference(a: Uint8Array, b: Uint8Array, opaqueOnly = false): number {
  let worst = 0;
  for (let i = 0; i < a.length; i += 4) {
    if (opaqueOnly && (b[i + 3] as number) < 255) continue;
    for (let c = 0; c < (opaqueOnly ? 3 : 4); c++) worst = Math.max(worst, Math.abs((a[i + c] as number) - (b[i + c] as number)));
  }
  return worst;
}

describe('decodePng against libvips', () => {
  const cases: [string, () => Sharp][] = [
    ['RGBA 8-bit', () => source().png()],
    ['RGBA 8-bit, Adam7', () => source().png({ progressive: true })],
    ['RGB 8-bit', () => source().removeAlpha().png()],
    ['RGBA 16-bit', () => source().toColourspace('rgb16').png()],
    ['RGB 16-bit, Adam7', () => source().removeAlpha().toColourspace('rgb16').png({ progressive: true })],
    ['grey 8-bit', () => source().removeAlpha().grayscale().png()],
    ['grey + alpha 8-bit', () => source().grayscale().png()],
    ['grey 16-bit', () => source().removeAlpha().toColourspace('grey16').png()],
    ['palette 8-bit with alpha', () => source().png({ palette: true, colours: 200, dither: 0 })],
    ['palette 4-bit', () => source().removeAlpha().png({ palette: true, colours: 16, dither: 0 })],
    ['palette 2-bit, Adam7', () => source().removeAlpha().png({ palette: true, colours: 4, dither: 0, progressive: true })],
    ['palette 1-bit', () => source().removeAlpha().png({ palette: true, colours: 2, dither: 0 })],
    ['every filter (compression 9, adaptive)', () => source().png({ compressionLevel: 9, adaptiveFiltering: true })],
    ['RGBA 16-bit, every filter, Adam7', () => source().toColourspace('rgb16').png({ compressionLevel: 9, adaptiveFiltering: true, progressive: true })],
  ];
  for (const [what, make] of cases) {
    it(what, async () => {
      const file = await make().toBuffer();
      const ours = await decodePng(new Uint8Array(file));
      expect([ours.width, ours.height]).toEqual([W, H]);
      // 16-bit samples: libvips rounds to 8 bits where the decoder shifts; one level apart at most.
      expect(worstDifference(ours.data, await reference(file))).toBeLessThanOrEqual(what.includes('16-bit') ? 1 : 0);
    });
  }

  it('every row filter (0-4), as a hand-made PNG uses them in turn', async () => {
    const { data } = await source().raw().toBuffer({ resolveWithObject: true });
    const ours = await decodePng(filteredPng(new Uint8Array(data)));
    expect(worstDifference(ours.data, new Uint8Array(data))).toBe(0);
  });

  it('refuses damaged files with an error, never a wrong image', async () => {
    const file = new Uint8Array(await source().png().toBuffer());
    const idat = Buffer.from(file).indexOf('IDAT');
    const cut = file.slice(0, idat + 60);
    await expect(decodePng(cut)).rejects.toThrow();
    const garbled = file.slice();
    for (let i = idat + 10; i < idat + 40; i++) garbled[i] = 0x55;
    await expect(decodePng(garbled)).rejects.toThrow();
  });

  it('reduces as it decodes: each output pixel is the alpha-weighted mean of its source pixels, interlaced or not', async () => {
    const full = await decodePng(new Uint8Array(await source().png().toBuffer()));
    const region = { left: 3, top: 2, width: 31, height: 19, outWidth: 7, outHeight: 5 };
    // The mean computed here from the full decode, as the definition says.
    const expected = new Uint8Array(region.outWidth * region.outHeight * 4);
    for (let oy = 0; oy < region.outHeight; oy++) {
      for (let ox = 0; ox < region.outWidth; ox++) {
        const sums = [0, 0, 0, 0];
        let n = 0;
        for (let y = region.top; y < region.top + region.height; y++) {
          for (let x = region.left; x < region.left + region.width; x++) {
            if (Math.floor(((x - region.left) * region.outWidth) / region.width) !== ox || Math.floor(((y - region.top) * region.outHeight) / region.height) !== oy) continue;
            const i = (y * W + x) * 4;
            const a = full.data[i + 3] as number;
            for (let c = 0; c < 3; c++) sums[c] = (sums[c] as number) + (full.data[i + c] as number) * a;
            sums[3] = (sums[3] as number) + a;
            n++;
          }
        }
        const o = (oy * region.outWidth + ox) * 4;
        const alpha = sums[3] as number;
        for (let c = 0; c < 3; c++) expected[o + c] = alpha > 0 ? Math.round((sums[c] as number) / alpha) : 0;
        expected[o + 3] = Math.round(alpha / n);
      }
    }
    for (const file of [await source().png().toBuffer(), await source().png({ progressive: true }).toBuffer()]) {
      const reduced = await decodePng(new Uint8Array(file), () => region);
      expect([reduced.width, reduced.height]).toEqual([7, 5]);
      expect(worstDifference(reduced.data, expected)).toBe(0);
    }
  });

  it('refuses a reduction outside the image or larger than its region', async () => {
    const file = new Uint8Array(await source().png().toBuffer());
    await expect(decodePng(file, () => ({ left: 30, top: 0, width: 10, height: H, outWidth: 5, outHeight: 5 }))).rejects.toThrow();
    await expect(decodePng(file, () => ({ left: 0, top: 0, width: 10, height: 10, outWidth: 11, outHeight: 5 }))).rejects.toThrow();
  });
});

/** An RGBA PNG whose row r uses filter r % 5 (RFC 2083 §6), made here since encoders pick their own. */
function filteredPng(rgba: Uint8Array): Uint8Array {
  const stride = W * 4;
  const rows = new Uint8Array(H * (1 + stride));
  for (let y = 0; y < H; y++) {
    const filter = y % 5;
    rows[y * (1 + stride)] = filter;
    for (let i = 0; i < stride; i++) {
      const x = rgba[y * stride + i] as number;
      const a = i >= 4 ? (rgba[y * stride + i - 4] as number) : 0;
      const b = y > 0 ? (rgba[(y - 1) * stride + i] as number) : 0;
      const c = i >= 4 && y > 0 ? (rgba[(y - 1) * stride + i - 4] as number) : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const predicted = [0, a, b, (a + b) >> 1, paeth][filter] as number;
      rows[y * (1 + stride) + 1 + i] = (x - predicted) & 255;
    }
  }
  const chunk = (type: string, body: Uint8Array) => {
    const out = Buffer.alloc(12 + body.length);
    out.writeUInt32BE(body.length, 0);
    out.write(type, 4, 'latin1');
    out.set(body, 8);
    return out; // the CRC is left zero: the decoder relies on zlib's own check
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(W, 0);
  ihdr.writeUInt32BE(H, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  return new Uint8Array(Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows)), chunk('IEND', new Uint8Array(0))]));
}

/**
 * A GIF of `indices` (W×H, 4-colour palette), rows stored in Adam-style interlaced order when asked,
 * LZW-coded with a clear code before the table would grow, so every code is a literal index.
 */
function handMadeGif(indices: Uint8Array, palette: number[], interlaced: boolean): Uint8Array {
  const order = interlaced ? [0, 4, 2, 1].flatMap((start, pass) => Array.from({ length: H }, (_, y) => y).filter((y) => y >= start && (y - start) % [8, 8, 4, 2][pass]! === 0)) : Array.from({ length: H }, (_, y) => y);
  const minCodeSize = 2;
  const clear = 1 << minCodeSize;
  const codes: number[] = [clear];
  let sinceClear = 0;
  for (const y of order) {
    for (let x = 0; x < W; x++) {
      codes.push(indices[y * W + x] as number);
      // After two literals the decoder has added one entry; clearing keeps the code size at 3 bits.
      if (++sinceClear === 2) {
        codes.push(clear);
        sinceClear = 0;
      }
    }
  }
  codes.push(clear + 1);
  const bytes: number[] = [];
  let bits = 0;
  let held = 0;
  for (const code of codes) {
    bits |= code << held;
    held += minCodeSize + 1;
    while (held >= 8) {
      bytes.push(bits & 255);
      bits >>= 8;
      held -= 8;
    }
  }
  if (held > 0) bytes.push(bits & 255);
  const blocks: number[] = [];
  for (let i = 0; i < bytes.length; i += 255) blocks.push(Math.min(255, bytes.length - i), ...bytes.slice(i, i + 255));
  const le = (n: number) => [n & 255, n >> 8];
  return new Uint8Array([
    ...Buffer.from('GIF89a'),
    ...le(W),
    ...le(H),
    0x81, 0, 0, // global colour table of 4 entries
    ...palette,
    0x2c, ...le(0), ...le(0), ...le(W), ...le(H), interlaced ? 0x40 : 0,
    minCodeSize,
    ...blocks,
    0,
    0x3b,
  ]);
}

describe('decodeGif against libvips', () => {
  for (const interlaced of [false, true]) {
    it(`a hand-made frame${interlaced ? ', interlaced' : ''}`, () => {
      const palette = [0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255];
      // Every row differs, so a row put in the wrong place shows.
      const indices = Uint8Array.from({ length: W * H }, (_, i) => ((i % W) * 7 + Math.floor(i / W) * 13 + (i % W) * Math.floor(i / W)) % 4);
      const ours = decodeGif(handMadeGif(indices, palette, interlaced));
      for (let i = 0; i < W * H; i++) {
        const k = indices[i] as number;
        expect([...ours.data.subarray(i * 4, i * 4 + 4)], `pixel ${i}`).toEqual([...palette.slice(k * 3, k * 3 + 3), 255]);
      }
    });
  }

  it('first frame as libvips writes it', async () => {
    const file = await source().gif({ dither: 0 }).toBuffer();
    const ours = decodeGif(new Uint8Array(file));
    expect([ours.width, ours.height]).toEqual([W, H]);
    const theirs = await reference(file);
    expect(worstDifference(ours.data, theirs, true)).toBe(0);
    // Transparency agrees (GIF has one transparent index: libvips makes alpha below 128 transparent).
    for (let i = 3; i < theirs.length; i += 4) expect((ours.data[i] as number) === 0, `pixel ${(i - 3) / 4}`).toBe((theirs[i] as number) === 0);
  });

  it('the committed two-frame fixture decodes its first frame', async () => {
    const file = await readFile(join(import.meta.dirname, '..', 'test', 'fixtures', 'anim.gif'));
    const ours = decodeGif(new Uint8Array(file));
    expect(worstDifference(ours.data, await reference(file), true)).toBe(0);
  });
});

describe('libjpeg-turbo in WebAssembly against libvips', () => {
  const meanDifference = (a: Uint8Array, b: Uint8Array) => {
    let total = 0;
    for (let i = 0; i < b.length; i++) total += Math.abs((a[i] as number) - (b[i] as number));
    return total / b.length;
  };
  const photo = () =>
    sharp({ create: { width: 300, height: 200, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).blur(1.5);

  it('progressive.jpg, and a progressive photo', async () => {
    const file = await readFile(join(import.meta.dirname, '..', 'test', 'fixtures', 'progressive.jpg'));
    expect(meanDifference(decodeJpeg(file, 8).data, await reference(file))).toBeLessThan(2);
    const made = await photo().jpeg({ quality: 90, progressive: true }).toBuffer();
    expect(meanDifference(decodeJpeg(made, 8).data, await reference(made))).toBeLessThan(2);
  });

  it('grayscale and 4:4:4', async () => {
    for (const made of [await photo().grayscale().jpeg().toBuffer(), await photo().jpeg({ chromaSubsampling: '4:4:4' }).toBuffer()]) {
      expect(meanDifference(decodeJpeg(made, 8).data, await reference(made))).toBeLessThan(2);
    }
  });

  it('CMYK (Adobe-inverted, as Photoshop and libvips write it)', async () => {
    const made = await photo().toColourspace('cmyk').jpeg().toBuffer();
    // libvips converts through an ICC profile; the plain inversion stays close on average.
    expect(meanDifference(decodeJpeg(made, 8).data, await reference(made))).toBeLessThan(16);
  });

  it('at 1/8, 1/4, 1/2: the scaled size libjpeg-turbo gives, near libvips\'s shrink-on-load', async () => {
    const made = await photo().jpeg({ quality: 90, progressive: true }).toBuffer();
    for (const n of [1, 2, 4] as const) {
      const ours = decodeJpeg(made, n);
      expect([ours.width, ours.height]).toEqual([Math.ceil((300 * n) / 8), Math.ceil((200 * n) / 8)]);
      const theirs = await sharp(made, { failOn: 'none' }).resize(ours.width, ours.height, { fit: 'fill', kernel: 'cubic' }).ensureAlpha().raw().toBuffer();
      expect(meanDifference(ours.data, new Uint8Array(theirs))).toBeLessThan(6);
    }
  });
});
