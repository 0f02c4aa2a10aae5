import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { app } from '../../src/app';
import { readDimensions } from '../../src/images/dimensions';
import { errorOf, fixture, uploadFile } from '../helpers';

/**
 * ASSETS_TRANSFORM_ENGINE=images: derivatives made by the Cloudflare Images binding (under the tests,
 * miniflare's local simulation on sharp, which ignores quality and focal points), with the WASM
 * engine for what the binding does not do the same way and when it fails. Server-Timing's render
 * entry names the engine that made the answer.
 */
const imagesEnv = { ...env, ASSETS_TRANSFORM_ENGINE: 'images' };
const wasmEnv = { ...env };
const q = (ops: unknown) => `transforms=${encodeURIComponent(JSON.stringify(ops))}`;

async function get(id: string, query: string, vars: Record<string, unknown> = imagesEnv) {
  const res = await app.request(`/assets/${id}?${query}`, {}, vars);
  const body = new Uint8Array(await res.arrayBuffer());
  const size = readDimensions(body);
  return {
    res,
    engine: /render;[^,]*desc="([^"]+)"/.exec(res.headers.get('server-timing') ?? '')?.[1],
    dims: size && 'width' in size ? [size.width, size.height] : undefined,
    format: size && 'format' in size ? size.format : undefined,
  };
}

describe('ASSETS_TRANSFORM_ENGINE=images', () => {
  it('makes derivatives through the binding, the same size and format as the WASM engine makes', async () => {
    const cases: [string, [number, number], string][] = [
      ['width=32&format=jpg', [32, 24], 'jpeg'],
      ['width=30&height=30&fit=cover&format=png', [30, 30], 'png'],
      ['width=40&format=webp', [40, 30], 'webp'],
      ['width=32&format=avif', [32, 24], 'avif'],
      [`width=20&format=png&${q([['rotate', 90]])}`, [20, 27], 'png'],
      [`width=16&format=jpg&${q([['flop'], ['grayscale']])}`, [16, 12], 'jpeg'],
    ];
    for (const [query, dims, format] of cases) {
      // A file each, so neither engine's answer can come from a cache the other filled.
      const [a, b] = [await uploadFile({ name: 'p.jpg', data: fixture('photo-meta.jpg') }), await uploadFile({ name: 'p.jpg', data: fixture('photo-meta.jpg') })];
      const viaImages = await get(a.id, query);
      expect(viaImages.res.status, query).toBe(200);
      expect(viaImages.engine, query).toBe('images');
      expect([viaImages.dims, viaImages.format], query).toEqual([dims, format]);
      const viaWasm = await get(b.id, query, wasmEnv);
      expect(viaWasm.engine, query).toBe('wasm');
      expect([viaWasm.dims, viaWasm.format], query).toEqual([dims, format]);
    }
  });

  it('what the binding does not do the same way is made by the WASM engine', async () => {
    for (const query of [`width=20&${q([['negate']])}`, `width=20&${q([['blur', 2]])}`, 'width=20&height=20&fit=outside']) {
      const file = await uploadFile({ name: 'p.jpg', data: fixture('photo-meta.jpg') });
      const out = await get(file.id, query);
      expect(out.res.status, query).toBe(200);
      expect(out.engine, query).toBe('wasm');
    }
  });

  it('a binding that fails: the WASM engine makes the derivative; a source it cannot take gets its 4xx', async () => {
    const broken = { ...imagesEnv, IMAGES: { input: () => { throw new Error('binding down'); }, info: () => Promise.reject(new Error('binding down')) } };
    const file = await uploadFile({ name: 'p.jpg', data: fixture('photo-meta.jpg') });
    const out = await get(file.id, 'width=24&format=png', broken);
    expect(out.res.status).toBe(200);
    expect(out.engine).toBe('wasm (images failed)');
    expect(out.dims).toEqual([24, 18]);
    const png = await uploadFile({ name: 'big.png', data: fixture('generated-24mp.png') });
    const streamed = await get(png.id, 'width=30&format=png', broken);
    expect([streamed.res.status, streamed.engine, streamed.dims]).toEqual([200, 'wasm (images failed)', [30, 20]]);
    const damaged = fixture('photo-meta.jpg').slice(0, 400);
    const bad = await uploadFile({ name: 'bad.jpg', data: damaged });
    expect(await errorOf(await app.request(`/assets/${bad.id}?width=20`, {}, broken))).toMatchObject({ status: 422, code: 'UNPROCESSABLE_IMAGE' });
  });

  it('the same limits and errors as the WASM engine', async () => {
    const file = await uploadFile({ name: 'p.jpg', data: fixture('photo-meta.jpg') });
    const cases: [string, number, string][] = [
      ['width=5000&height=5000&format=png', 400, 'INVALID_QUERY'],
      ['width=1500&format=avif', 400, 'INVALID_QUERY'],
      ['width=abc', 400, 'INVALID_QUERY'],
      [q([['sepia']]), 400, 'INVALID_QUERY'],
    ];
    for (const [query, status, code] of cases) {
      expect(await errorOf(await app.request(`/assets/${file.id}?${query}`, {}, imagesEnv)), query).toMatchObject({ status, code });
    }
  });

  it('without the IMAGES binding: 500 INVALID_CONFIG saying what to add', async () => {
    const file = await uploadFile({ name: 'p.jpg', data: fixture('photo-meta.jpg') });
    const error = await errorOf(await app.request(`/assets/${file.id}?width=20`, {}, { ...imagesEnv, IMAGES: undefined }));
    expect(error).toMatchObject({ status: 500, code: 'INVALID_CONFIG' });
    expect(error.message).toMatch(/IMAGES binding/);
  });
});
