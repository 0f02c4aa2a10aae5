import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { meanDifference, rgba } from './compare.ts';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../src/errors/app-error.ts';
import { readDimensions } from '../src/images/dimensions.ts';
import { transformImage } from '../src/images/pipeline.ts';
import { guardSvg } from '../src/images/svg-guard.ts';
import { resolveTransform } from '../src/images/transform.ts';
import { billionLaughs, declaredSize, deepNesting, externalEntity, externalReferences, hugePath, useBomb, useCycle } from '../test/security/hostile-svgs.ts';

/**
 * SVG sources rendered by resvg through the whole pipeline, against sharp (libvips renders SVG with
 * librsvg) on the same request. Two renderers anti-alias edges and interpolate gradients a little
 * differently, so the bound is on the mean difference of premultiplied RGBA (levels of 255): correct
 * output measures ~1, a shifted or mis-scaled drawing, lost transparency or a missing shape tens.
 */
const MEAN_BOUND = 4;
const MAX_PIXELS = 4_000_000;
const logo = new Uint8Array(readFileSync(join(import.meta.dirname, '..', 'test', 'fixtures', 'logo.svg')));

const shapes = new TextEncoder().encode(`<svg xmlns="http://www.w3.org/2000/svg" width="300" height="300" viewBox="-50 -50 100 100" preserveAspectRatio="xMidYMid meet">
  <g opacity="0.7"><circle r="40" fill="none" stroke="#d02090" stroke-width="8"/><rect x="-25" y="-25" width="50" height="50" fill="#20a0d0" transform="rotate(30)"/></g>
  <path d="M-45 40 L0 -45 L45 40 Z" fill="#f0c020" fill-opacity="0.5" stroke="#101010" stroke-width="1.5" stroke-dasharray="4 2"/>
  <ellipse cx="0" cy="30" rx="30" ry="8" fill="#30c060"/>
</svg>`);

function transformOf(bytes: Uint8Array, query: string) {
  const header = readDimensions(bytes);
  if (!header || 'needBytes' in header) throw new Error('no header');
  const settings = { storage_asset_transform: 'all' as const, storage_asset_presets: [] };
  const t = resolveTransform(new URLSearchParams(query), { settings, maxDimension: 6000, maxOperations: 5, accept: null, sourceType: 'image/svg+xml', sourceWidth: null, sourceHeight: null, focalPointX: null, focalPointY: null });
  return { header, t };
}

async function ours(bytes: Uint8Array, query: string) {
  const { header, t } = transformOf(bytes, query);
  return transformImage(bytes, header, t, MAX_PIXELS);
}

/** sharp's render at the target's scale: librsvg draws at `density` (72 = the declared size), then libvips fits it. */
async function theirs(bytes: Uint8Array, scale: number, resize: sharp.ResizeOptions) {
  return rgba(await sharp(Buffer.from(bytes), { density: 72 * scale }).resize(resize).png().toBuffer());
}

async function refusal(bytes: Uint8Array, query: string): Promise<AppError> {
  const error = await ours(bytes, query).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof AppError)) throw new Error(`expected a refusal, got ${String(error)}`);
  return error;
}

describe('SVG to raster against librsvg (sharp)', () => {
  const cases: [string, Uint8Array, string, number, sharp.ResizeOptions][] = [
    ['logo, width=300 (enlarged)', logo, 'width=300&format=png', 300 / 240, { width: 300 }],
    ['logo, width=96 (reduced)', logo, 'width=96&format=png', 96 / 240, { width: 96 }],
    ['logo, 100×100 cover', logo, 'width=100&height=100&fit=cover&format=png', 100 / 160, { width: 100, height: 100, fit: 'cover' }],
    ['logo, as declared', logo, 'format=png', 1, {}],
    ['shapes, viewBox centred, width=200', shapes, 'width=200&format=png', 200 / 300, { width: 200 }],
    ['shapes, 120×60 contain', shapes, 'width=120&height=60&fit=inside&format=png', 60 / 300, { width: 120, height: 60, fit: 'inside' }],
  ];
  for (const [what, bytes, query, scale, resize] of cases) {
    it(`${what}: same size, mean difference < ${MEAN_BOUND}`, async () => {
      const mine = await rgba((await ours(bytes, query)).body);
      const other = await theirs(bytes, scale, resize);
      expect([mine.width, mine.height]).toEqual([other.width, other.height]);
      const mean = meanDifference(mine.data, other.data);
      console.log(`${what}: mean difference ${mean.toFixed(2)}`);
      expect(mean).toBeLessThan(MEAN_BOUND);
    });
  }

  it('keeps transparency (PNG, WebP), flattens it on white for JPEG', async () => {
    // The logo's rounded corners are transparent.
    const png = await rgba((await ours(logo, 'width=240&format=png')).body);
    expect(png.data[3]).toBe(0);
    const webp = await rgba((await ours(logo, 'width=240&format=webp&quality=90')).body);
    expect(webp.data[3]).toBe(0);
    const jpg = await rgba((await ours(logo, 'width=240&format=jpg&quality=90')).body);
    // White, within what 4:2:0 chroma at q90 bleeds from the sky 6 px away (transparent black would be 0).
    for (const channel of jpg.data.subarray(0, 3)) expect(channel).toBeGreaterThan(235);
  });

  it('a half-transparent fill comes out straight (not premultiplied)', async () => {
    const svg = new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="rgb(200,100,50)" fill-opacity="0.5"/></svg>');
    const out = await rgba((await ours(svg, 'format=png')).body);
    // resvg holds 100,50,25 premultiplied at 128: straight is 199–200, 100, 50.
    const [r, g, b, a] = Array.from(out.data.subarray(0, 4)) as [number, number, number, number];
    expect([Math.abs(r - 200), Math.abs(g - 100), Math.abs(b - 50), a]).toEqual([expect.toSatisfy((d: number) => d <= 1), expect.toSatisfy((d: number) => d <= 1), expect.toSatisfy((d: number) => d <= 1), 128]);
  });
});

describe('SVG sources never reach outside', () => {
  let server: Server;
  const requests: string[] = [];
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      res.end('');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('images, uses, stylesheets, fonts and filter images elsewhere are dropped; the drawing renders and nothing is requested', async () => {
    const bytes = externalReferences(base);
    const out = await rgba((await ours(bytes, 'width=100&format=png')).body);
    // The blue square is drawn (the external image would have covered its top half).
    expect(Array.from(out.data.subarray((50 * 100 + 50) * 4, (50 * 100 + 50) * 4 + 4))).toEqual([0x20, 0x40, 0xe0, 255]);
    expect(Array.from(out.data.subarray((25 * 100 + 25) * 4, (25 * 100 + 25) * 4 + 4))).toEqual([0x20, 0x40, 0xe0, 255]);
    // What resvg is given names none of them.
    const given = guardSvg(bytes).svg;
    expect(given).not.toContain(base);
    expect(given).not.toMatch(/file:/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(requests).toEqual([]);
  });

  it('an external entity is refused before any parser sees it, and nothing is requested', async () => {
    const error = await refusal(externalEntity(`${base}/xxe`), 'width=50&format=png');
    expect([error.status, error.code]).toEqual([422, 'UNPROCESSABLE_IMAGE']);
    expect(error.message).toMatch(/entities/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(requests).toEqual([]);
  });
});

describe('hostile SVGs are refused before rendering', () => {
  const hostile: [string, () => Uint8Array, string, RegExp][] = [
    ['billion laughs', billionLaughs, 'width=50&format=png', /entities/],
    ['100000×100000 declared, width=300 asked', () => declaredSize(100_000, 100_000), 'width=300&format=png', /declares a 100000×100000 size/],
    ['use bomb (10^12 rects)', () => useBomb(12, 10), 'width=50&format=png', /weighted elements/],
    ['reference cycle', useCycle, 'width=50&format=png', /refers to itself/],
    ['10,000 nested groups', () => deepNesting(10_000), 'width=50&format=png', /nests elements more than 128 deep/],
    ['a path of 150,000 segments', () => hugePath(150_000), 'width=12&format=png', /more than 60000 path segments/],
  ];
  for (const [what, make, query, message] of hostile) {
    it(`${what}: 422 naming the limit`, async () => {
      const error = await refusal(make(), query);
      expect([error.status, error.code]).toEqual([422, 'UNPROCESSABLE_IMAGE']);
      expect(error.message).toMatch(message);
    });
  }

  it('100000×100000 declared at its own size: 400 naming the output limit', async () => {
    const error = await refusal(declaredSize(100_000, 100_000), 'format=png');
    expect([error.status, error.code]).toEqual([400, 'INVALID_QUERY']);
    expect(error.message).toMatch(/ASSETS_TRANSFORM_MAX_PIXELS/);
  });

  it('nested groups within the depth limit render, and layers count in the memory budget', async () => {
    expect((await ours(deepNesting(50), 'width=50&format=png')).width).toBe(50);
    // 50 layers of a 2000×2000 canvas would be 800 MB: refused with the numbers.
    const error = await refusal(deepNesting(50), 'width=2000&format=png');
    expect([error.status, error.code]).toEqual([422, 'UNPROCESSABLE_IMAGE']);
    expect(error.message).toMatch(/50 layers at once/);
  });
});
