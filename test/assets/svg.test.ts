import { PhotonImage } from '@cf-wasm/photon';
import { thumbHashToApproximateAspectRatio, thumbHashToAverageRGBA } from 'thumbhash';
import { describe, expect, it } from 'vitest';
import { readDimensions } from '../../src/images/dimensions';
import { billionLaughs, declaredSize, externalReferences, useBomb } from '../security/hostile-svgs';
import { api, errorOf, type FileJson, fixture, uploadFile } from '../helpers';

/** The webhook receiver of the global setup: it records every request under /probe/<name>/. */
const RECEIVER = 'http://127.0.0.1:7670';

async function asset(id: string, query: string, headers: Record<string, string> = {}) {
  const res = await api(`/assets/${id}?${query}`, { token: null, headers });
  const body = new Uint8Array(await res.arrayBuffer());
  const dims = readDimensions(body);
  return { res, body, dims: dims && 'width' in dims ? [dims.width, dims.height] : undefined, format: dims && 'format' in dims ? dims.format : undefined };
}

/** The RGBA pixel at (x, y) of an encoded image. */
function pixel(body: Uint8Array, x: number, y: number): number[] {
  const img = PhotonImage.new_from_byteslice(body);
  try {
    const i = (y * img.get_width() + x) * 4;
    return Array.from(img.get_raw_pixels().subarray(i, i + 4));
  } finally {
    img.free();
  }
}

const upload = (name: string, data: Uint8Array) => uploadFile({ name, data, type: 'image/svg+xml' });

describe('SVG sources to raster', () => {
  let logo: FileJson;

  it('width, height and format requests of an SVG give a raster at that size', async () => {
    logo = await upload('logo.svg', fixture('logo.svg'));
    // The record carries the size the SVG declares, as Directus (sharp) gives it.
    expect([logo.width, logo.height]).toEqual([240, 160]);
    const cases: [string, string, [number, number]][] = [
      ['width=120', 'png', [120, 80]],
      ['height=40&format=webp', 'webp', [60, 40]],
      ['width=480&format=jpg', 'jpeg', [480, 320]],
      ['width=100&height=100&fit=cover&format=png', 'png', [100, 100]],
      ['format=png', 'png', [240, 160]],
    ];
    for (const [query, format, size] of cases) {
      const { res, dims, format: got } = await asset(logo.id, query);
      expect(res.status, query).toBe(200);
      expect([got, dims], query).toEqual([format, size]);
      expect(res.headers.get('content-type'), query).toBe(`image/${format}`);
    }
  });

  it('draws what the SVG draws: transparent corners, the green hill, the half-transparent red box', async () => {
    const { body } = await asset(logo.id, 'width=240&format=png');
    expect(pixel(body, 0, 0)[3]).toBe(0);
    // The hill (#2f8f46) at the bottom middle, opaque.
    expect(pixel(body, 120, 150)).toEqual([0x2f, 0x8f, 0x46, 255]);
    const [r, g, b, a] = pixel(body, 30, 75) as [number, number, number, number];
    expect(a).toBe(255);
    // #e03020 at half opacity over the sky: more red than the sky's blue.
    expect(r).toBeGreaterThan(b);
    expect(g).toBeLessThan(r);
  });

  it('the original SVG is still served as it is, with its active-content protections', async () => {
    for (const query of ['', 'download']) {
      const res = await api(`/assets/${logo.id}${query ? `?${query}` : ''}`, { token: null });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/svg+xml');
      expect(res.headers.get('content-security-policy')).toContain('sandbox');
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(fixture('logo.svg'));
    }
  });

  it('gets a ThumbHash placeholder with its aspect ratio', async () => {
    let hash: string | null = null;
    for (let i = 0; i < 100 && !hash; i++) {
      hash = ((await (await api(`/files/${logo.id}`)).json()) as { data: { thumbhash: string | null } }).data.thumbhash;
      if (!hash) await new Promise((r) => setTimeout(r, 50));
    }
    const bytes = Uint8Array.from(atob(hash as string), (c) => c.charCodeAt(0));
    expect(thumbHashToApproximateAspectRatio(bytes)).toBeGreaterThan(1.3);
    expect(thumbHashToApproximateAspectRatio(bytes)).toBeLessThan(1.7);
    // Sky, sun and hill: mostly blue and green, little red.
    const { r, b } = thumbHashToAverageRGBA(bytes);
    expect(b).toBeGreaterThan(r);
  });

  it('external references are dropped and nothing is requested from the listener they name', async () => {
    const name = `svg-${crypto.randomUUID()}`;
    const file = await upload('outside.svg', externalReferences(`${RECEIVER}/probe/${name}`));
    const { res, body } = await asset(file.id, 'width=100&format=png');
    expect(res.status).toBe(200);
    // The blue square the external images would have covered.
    expect(pixel(body, 25, 25)).toEqual([0x20, 0x40, 0xe0, 255]);
    await new Promise((r) => setTimeout(r, 300));
    expect(await (await fetch(`${RECEIVER}/received/${name}`)).json()).toEqual([]);
  });

  it('hostile SVGs: 422 (or 400) naming the limit, the isolate still renders afterwards', async () => {
    const cases: [string, Uint8Array, string, number, RegExp][] = [
      ['laughs.svg', billionLaughs(), 'width=50&format=png', 422, /entities/],
      ['bomb.svg', useBomb(12, 10), 'width=50&format=png', 422, /weighted elements/],
      ['huge.svg', declaredSize(100_000, 100_000), 'width=300&format=png', 422, /declares a 100000×100000 size/],
      ['huge.svg', declaredSize(100_000, 100_000), 'format=png', 400, /ASSETS_TRANSFORM_MAX_PIXELS/],
    ];
    for (const [name, data, query, status, message] of cases) {
      const file = await upload(name, data);
      const error = await errorOf(await api(`/assets/${file.id}?${query}`, { token: null }));
      expect(error.status, name).toBe(status);
      expect(error.message, name).toMatch(message);
    }
    expect((await asset(logo.id, 'width=60&format=png')).dims).toEqual([60, 40]);
  });
});
