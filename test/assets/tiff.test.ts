import { PhotonImage } from '@cf-wasm/photon';
import { thumbHashToAverageRGBA } from 'thumbhash';
import { describe, expect, it } from 'vitest';
import { readDimensions } from '../../src/images/dimensions';
import { decodeTiff } from '../../src/images/tiff';
import { api, errorOf, type FileJson, fixture, uploadFile } from '../helpers';

/**
 * TIFF sources and `format=tiff` over HTTP, in workerd: uploads get their size (the directory of
 * an uncompressed one lies ~2.9 MB in), thumbnails of strips, tiles and JPEG-in-TIFF come out at the
 * size asked with the gradient's colours, and a TIFF thumbnail reads back. The pixel-level checks
 * against libvips are in test-node/tiff.reference.test.ts.
 */

async function thumb(id: string, query: string) {
  const res = await api(`/assets/${id}?${query}`, { token: null });
  const body = new Uint8Array(await res.arrayBuffer());
  const dims = readDimensions(body);
  return { res, body, dims: dims && 'width' in dims ? [dims.width, dims.height] : undefined, format: dims && 'format' in dims ? dims.format : undefined };
}

/** The gradient runs red (left) to blue (right): the mean red of the left and right tenths. */
function redAtEdges(png: Uint8Array): [number, number] {
  const img = PhotonImage.new_from_byteslice(png);
  const w = img.get_width();
  const h = img.get_height();
  const raw = img.get_raw_pixels();
  img.free();
  const mean = (x0: number, x1: number) => {
    let sum = 0;
    for (let y = 0; y < h; y++) for (let x = x0; x < x1; x++) sum += raw[(y * w + x) * 4] as number;
    return sum / ((x1 - x0) * h);
  };
  return [mean(0, Math.ceil(w / 10)), mean(w - Math.ceil(w / 10), w)];
}

const files: Record<string, FileJson> = {};

describe('TIFF sources', () => {
  it('an upload gets the TIFF type and its size, even with the directory far past the first bytes', async () => {
    const strips = fixture('generated-strips.tiff');
    const ifd = new DataView(strips.buffer, strips.byteOffset).getUint32(4, true);
    expect(ifd).toBeGreaterThan(2 * 1024 * 1024);
    for (const name of ['generated-strips.tiff', 'generated-tiles.tiff', 'generated-jpeg.tiff']) {
      const file = await uploadFile({ name, data: fixture(name), type: 'image/tiff' });
      expect([file.type, file.width, file.height], name).toEqual(['image/tiff', 1200, 800]);
      files[name] = file;
    }
  });

  for (const name of ['generated-strips.tiff', 'generated-tiles.tiff', 'generated-jpeg.tiff']) {
    it(`${name}: a 300 px thumbnail, red at the left and not at the right`, async () => {
      const out = await thumb((files[name] as FileJson).id, 'width=300&format=png');
      expect(out.res.status, new TextDecoder().decode(out.body)).toBe(200);
      expect(out.dims).toEqual([300, 200]);
      const [left, right] = redAtEdges(out.body);
      expect(left).toBeGreaterThan(200);
      expect(right).toBeLessThan(60);
    });
  }

  it('a cover crop of the tiled TIFF keeps its right part', async () => {
    const out = await thumb((files['generated-tiles.tiff'] as FileJson).id, 'width=100&height=100&fit=cover&focal_point_x=1150&focal_point_y=400&format=png');
    expect(out.dims).toEqual([100, 100]);
    // 1200×800 → 150×100, columns 50–150 kept: red from about two thirds down (a centred crop starts at ~85%).
    const [left, right] = redAtEdges(out.body);
    expect(left).toBeLessThan(190);
    expect(right).toBeLessThan(40);
  });

  it('format=tiff: image/tiff that decodes to the size asked, from a TIFF and from a JPEG source', async () => {
    const jpeg = await uploadFile({ name: 'photo.jpg', data: fixture('photo-meta.jpg') });
    for (const [id, size] of [[(files['generated-tiles.tiff'] as FileJson).id, [200, 133]], [jpeg.id, undefined]] as const) {
      const out = await thumb(id, 'width=200&format=tiff');
      expect(out.res.status).toBe(200);
      expect(out.res.headers.get('content-type')).toBe('image/tiff');
      expect(out.res.headers.get('content-disposition')).toContain('.tiff"');
      expect(out.format).toBe('tiff');
      if (size) expect(out.dims).toEqual(size);
      const decoded = await decodeTiff(out.body);
      expect([decoded.width, decoded.height]).toEqual(out.dims);
    }
  });

  it('format=tiff is a preset format too', async () => {
    const res = await api('/settings', {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ storage_asset_presets: [{ key: 'tiff-64', width: 64, format: 'tiff' }] }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const out = await thumb((files['generated-strips.tiff'] as FileJson).id, 'key=tiff-64');
    expect([out.res.status, out.format, ...(out.dims ?? [])]).toEqual([200, 'tiff', 64, 43]);
  });

  it('a TIFF upload gets a placeholder of its colours', async () => {
    const id = (files['generated-strips.tiff'] as FileJson).id;
    let hash: string | null = null;
    for (let i = 0; i < 100 && !hash; i++) {
      hash = ((await (await api(`/files/${id}`)).json()) as { data: { thumbhash: string | null } }).data.thumbhash;
      if (!hash) await new Promise((r) => setTimeout(r, 50));
    }
    expect(hash).toBeTruthy();
    const average = thumbHashToAverageRGBA(Uint8Array.from(atob(hash as string), (c) => c.charCodeAt(0)));
    // Red to blue: about as much red as blue, little green.
    expect(average.g).toBeLessThan(0.2);
    expect(Math.abs(average.r - average.b)).toBeLessThan(0.2);
  });

  it('a truncated TIFF is a 422 that says why, not a crash', async () => {
    const whole = fixture('generated-tiles.tiff');
    // The directory is at the end: keep the header and directory, drop most tile data.
    const cut = new Uint8Array(whole);
    cut.fill(0, 8, Math.floor(whole.length / 2));
    const file = await uploadFile({ name: 'damaged.tiff', data: cut, type: 'image/tiff' });
    const res = await api(`/assets/${file.id}?width=100&format=png`, { token: null });
    const error = await errorOf(res);
    expect(error.status).toBe(422);
    expect(error.message).toMatch(/TIFF/);
  });
});
