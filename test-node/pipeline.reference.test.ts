import { meanDifference, rgba } from './compare.ts';
import sharp, { type Sharp } from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { readDimensions } from '../src/images/dimensions.ts';
import { type StreamedSource, transformImage } from '../src/images/pipeline.ts';
import { applyPixelOperations, parseTransforms } from '../src/images/operations.ts';
import { resolveTransform } from '../src/images/transform.ts';
import { streamOf } from '../test/streams.ts';

/**
 * The whole transform pipeline (what `/assets` runs on a miss) against sharp on the same request and
 * the same bytes: the dimensions must be exact and the mean difference of every premultiplied channel
 * small. The filters differ (a box pre-shrink and Catmull-Rom here, Lanczos 3 in libvips), so pixels
 * are never identical; MEAN_BOUND (of 255) is a few times what correct output measures and far below
 * what a shifted crop, a wrong orientation, lost alpha or a swapped channel gives (tens).
 */
const MEAN_BOUND = 3;
const MAX_PIXELS = 4_000_000;

/** A photo-like image: smooth gradients, detail and noise, with an alpha ramp when asked. */
function picture(width: number, height: number, alpha = false): Sharp {
  const svg = `<svg width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg"><defs><linearGradient id="g" x2="1" y2="1"><stop offset="0" stop-color="#e03020"/><stop offset="0.5" stop-color="#20c060"/><stop offset="1" stop-color="#2040e0"/></linearGradient><linearGradient id="a"><stop offset="0" stop-opacity="0"/><stop offset="1" stop-opacity="1"/></linearGradient><mask id="m"><rect width="100%" height="100%" fill="${alpha ? 'url(#a)' : '#fff'}"/></mask></defs><g mask="url(#m)"><rect width="100%" height="100%" fill="url(#g)"/><circle cx="${width * 0.3}" cy="${height * 0.4}" r="${height * 0.2}" fill="#ffe040"/><rect x="${width * 0.6}" y="${height * 0.55}" width="${width * 0.25}" height="${height * 0.3}" fill="#101010"/></g></svg>`;
  return sharp(Buffer.from(svg)).png();
}

async function transformed(file: Buffer, query: string, format: string, streamed = false): Promise<Uint8Array> {
  const bytes = new Uint8Array(file);
  const header = readDimensions(bytes);
  if (!header || 'needBytes' in header) throw new Error('no header');
  const settings = { storage_asset_transform: 'all' as const, storage_asset_presets: [] };
  const t = resolveTransform(new URLSearchParams(`${query}&format=${format}`), { settings, maxDimension: 6000, maxOperations: 5, accept: null, sourceType: `image/${header.format}`, sourceWidth: null, sourceHeight: null, focalPointX: null, focalPointY: null });
  // A PNG is also fed as /assets feeds a large one: a stream, in small uneven pieces.
  const source: Uint8Array | StreamedSource = streamed ? { head: bytes.subarray(0, 4096), stream: streamOf(bytes, 7777) } : bytes;
  return (await transformImage(source, header, t, MAX_PIXELS)).body;
}

async function ours(file: Buffer, query: string, streamed: boolean, format = 'png') {
  return rgba(await transformed(file, query, format, streamed));
}

type Resize = { width?: number; height?: number; fit?: 'cover' | 'contain' | 'inside' | 'outside' | 'fill' };

async function compare(file: Buffer, query: string, resize: Resize, streamed = false, bound = MEAN_BOUND) {
  const mine = await ours(file, query, streamed);
  const theirs = await rgba(await sharp(file).rotate().resize(resize).png().toBuffer());
  expect([mine.width, mine.height]).toEqual([theirs.width, theirs.height]);
  const mean = meanDifference(mine.data, theirs.data);
  expect(mean).toBeLessThan(bound);
  return mean;
}

describe('transformImage against sharp', () => {
  const files: Record<string, Buffer> = {};
  beforeAll(async () => {
    const base = await picture(1800, 1200).toBuffer();
    files.jpeg = await sharp(base).jpeg({ quality: 92 }).toBuffer();
    files.progressive12mp = await sharp(await picture(4032, 3024).toBuffer()).jpeg({ quality: 90, progressive: true }).toBuffer();
    files.cmyk = await sharp(base).toColourspace('cmyk').jpeg({ quality: 92 }).toBuffer();
    files.grey = await sharp(base).grayscale().jpeg({ quality: 92 }).toBuffer();
    files.png24mp = await sharp(await picture(6000, 4000).toBuffer()).png({ compressionLevel: 1 }).toBuffer();
    const alpha = await picture(600, 400, true).toBuffer();
    files.rgba = alpha;
    files.rgbaAdam7 = await sharp(alpha).png({ progressive: true }).toBuffer();
    files.rgb16 = await sharp(alpha).removeAlpha().toColourspace('rgb16').png().toBuffer();
    files.rgba16Adam7 = await sharp(alpha).toColourspace('rgb16').png({ progressive: true }).toBuffer();
    files.palette = await sharp(alpha).png({ palette: true, colours: 256, dither: 0 }).toBuffer();
    files.greyAlpha = await sharp(alpha).grayscale().png().toBuffer();
    files.webp = await sharp(alpha).webp({ quality: 95 }).toBuffer();
    files.gif = await sharp(base).resize(600).gif().toBuffer();
    files.avif = await sharp(alpha).avif({ quality: 90 }).toBuffer();
  }, 120_000);

  const cases: [string, string, Resize, boolean?, number?][] = [
    ['jpeg', 'width=200&height=200&fit=cover', { width: 200, height: 200, fit: 'cover' }],
    ['jpeg', 'width=300&height=100&fit=contain', { width: 300, height: 100, fit: 'inside' }],
    ['progressive12mp', 'width=400', { width: 400 }],
    // CMYK is turned into RGB by formula, without an ICC profile (a colour management module would be
    // larger than the rest of the engine); libvips converts through a CMYK profile, its default one
    // when the file has none, as here. Measured ~24; inverted or swapped channels measure over 100.
    ['cmyk', 'width=150', { width: 150 }, false, 30],
    ['grey', 'width=150&height=150&fit=cover', { width: 150, height: 150, fit: 'cover' }],
    ['png24mp', 'width=300', { width: 300 }, true],
    ['png24mp', 'width=250&height=250&fit=cover', { width: 250, height: 250, fit: 'cover' }, true],
    ['rgba', 'width=90', { width: 90 }],
    ['rgba', 'width=64&height=64&fit=cover', { width: 64, height: 64, fit: 'cover' }, true],
    ['rgba', 'width=500', { width: 500 }],
    ['rgbaAdam7', 'width=90', { width: 90 }, true],
    ['rgb16', 'width=90', { width: 90 }],
    ['rgba16Adam7', 'width=77&height=40&fit=cover', { width: 77, height: 40, fit: 'cover' }],
    ['palette', 'width=90', { width: 90 }],
    ['greyAlpha', 'width=90', { width: 90 }],
    ['webp', 'width=90', { width: 90 }],
    ['gif', 'width=90', { width: 90 }],
    ['avif', 'width=90', { width: 90 }],
  ];
  for (const [name, query, resize, streamed, bound] of cases) {
    it(`${name} ${query}${streamed ? ' (streamed)' : ''}`, async () => {
      await compare(files[name] as Buffer, query, resize, streamed, bound);
    });
  }

  it('lossy WebP and AVIF outputs: sharp decodes them to the requested size, close to its own resize', async () => {
    const file = files.jpeg as Buffer;
    const theirs = await rgba(await sharp(file).resize({ width: 300 }).png().toBuffer());
    for (const format of ['webp', 'avif']) {
      const mine = await ours(file, 'width=300&quality=80', false, format);
      expect((await sharp((await transformed(file, 'width=300&quality=80', format))).metadata()).format).toBe(format === 'avif' ? 'heif' : 'webp');
      expect([mine.width, mine.height]).toEqual([theirs.width, theirs.height]);
      // Lossy at quality 80: a few levels more than the lossless comparisons.
      expect(meanDifference(mine.data, theirs.data)).toBeLessThan(2 * MEAN_BOUND);
    }
  });

  // Directus `transforms` against sharp doing the same operations on the source (Directus 12 runs
  // them through sharp). Colour operations are done in Y'CbCr here, in Lab/LCh by libvips: their
  // bounds are wider, and still far below what a wrong operation gives (a no-op measures 20 or more).
  // [transforms, what sharp does, whether it acts before the resize (geometry), bound]
  const operations: [string, (s: Sharp) => Sharp, boolean, number][] = [
    ['[["grayscale"]]', (s) => s.grayscale(), false, MEAN_BOUND],
    ['[["rotate",90]]', (s) => s.rotate(90), true, MEAN_BOUND],
    // sharp flips before it turns, whatever the order of the calls.
    ['[["rotate",-90],["flip"]]', (s) => s.rotate(-90).flip(), true, MEAN_BOUND],
    ['[["flip"]]', (s) => s.flip(), true, MEAN_BOUND],
    ['[["flop"]]', (s) => s.flop(), true, MEAN_BOUND],
    ['[["negate"]]', (s) => s.negate(), false, MEAN_BOUND],
    ['[["blur",4]]', (s) => s.blur(4), false, MEAN_BOUND],
    ['[["sharpen"]]', (s) => s.sharpen(), false, MEAN_BOUND],
    ['[["sharpen",{"sigma":2}]]', (s) => s.sharpen({ sigma: 2 }), false, 2 * MEAN_BOUND],
    ['[["tint","#3060ff"]]', (s) => s.tint('#3060ff'), false, MEAN_BOUND],
    ['[["modulate",{"saturation":0.3}]]', (s) => s.modulate({ saturation: 0.3 }), false, MEAN_BOUND],
    ['[["modulate",{"brightness":1.3,"hue":90,"lightness":-5}]]', (s) => s.modulate({ brightness: 1.3, hue: 90, lightness: -5 }), false, MEAN_BOUND],
  ];
  for (const [transforms, apply, geometric, bound] of operations) {
    it(`transforms=${transforms} with width=300`, async () => {
      const file = files.jpeg as Buffer;
      const mine = await ours(file, `width=300&transforms=${encodeURIComponent(transforms)}`, false);
      // Geometry acts before the resize (width describes the turned image), the rest after it.
      const expected = geometric
        ? await sharp(await apply(sharp(file)).png().toBuffer()).resize({ width: 300 }).png().toBuffer()
        : await apply(sharp(await sharp(file).resize({ width: 300 }).png().toBuffer())).png().toBuffer();
      const theirs = await rgba(expected);
      expect([mine.width, mine.height]).toEqual([theirs.width, theirs.height]);
      expect(meanDifference(mine.data, theirs.data)).toBeLessThan(bound);
      if (transforms.includes('blur') || transforms.includes('sharpen')) {
        // Blur and sharpen move few pixels far, so a no-op is within the bound too. On the very
        // pixels sharp worked on, ours must land far nearer sharp's result than the untouched ones.
        const resized = await sharp(file).resize({ width: 300 }).png().toBuffer();
        const same = await rgba(resized);
        applyPixelOperations(same.data, same.width, same.height, parseTransforms(transforms, 5));
        const untouched = await rgba(resized);
        expect(meanDifference(same.data, theirs.data)).toBeLessThan(0.25 * meanDifference(untouched.data, theirs.data));
      }
    });
  }

  it('EXIF orientations 1–8: the displayed image, cropped and resized', async () => {
    const base = await picture(300, 200).jpeg({ quality: 95 }).toBuffer();
    for (let orientation = 1; orientation <= 8; orientation++) {
      const file = await sharp(base).withMetadata({ orientation }).jpeg({ quality: 95 }).toBuffer();
      await compare(file, 'width=60&height=50&fit=cover', { width: 60, height: 50, fit: 'cover' });
      await compare(file, 'width=40', { width: 40 });
    }
  });
});
