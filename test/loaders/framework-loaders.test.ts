import { PhotonImage } from '@cf-wasm/photon';
import { createDirectus, readAssetArrayBuffer, readAssetRaw, rest } from '@directus/sdk';
import { transformProps } from '@unpic/core';
import { exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { readDimensions } from '../../src/images/dimensions';
import { type FileJson, uploadFile } from '../helpers';

/**
 * The image URLs that the clients people use build (the README's "Framework loaders"), fetched from
 * the live /assets: each answer is an image of the width (and format) the client asked for.
 */
const ORIGIN = 'http://assets.test';
const worker = (input: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(new Request(input, init));

async function image(url: string, accept = '*/*') {
  const res = await worker(url, { headers: { accept } });
  expect(res.status, `${url}: ${res.status}`).toBe(200);
  return described(new Uint8Array(await res.arrayBuffer()));
}

function described(bytes: Uint8Array) {
  const dims = readDimensions(bytes);
  if (!dims || !('width' in dims)) throw new Error('not an image');
  return dims;
}

let photo: FileJson;
beforeAll(async () => {
  // 800×600, wider than every width asked for below but unpic's largest srcset entries.
  const source = new PhotonImage(new Uint8Array(800 * 600 * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 7) % 256)), 800, 600);
  try {
    photo = await uploadFile({ name: 'photo.jpg', data: source.get_bytes_jpeg(85), type: 'image/jpeg' });
  } finally {
    source.free();
  }
  expect(photo).toMatchObject({ width: 800, height: 600 });
});

describe('@unpic/core with its Directus transformer', () => {
  it('every srcset entry is an image of its width; src is in the format asked for', async () => {
    const props = transformProps({
      src: `${ORIGIN}/assets/${photo.id}`,
      cdn: 'directus',
      layout: 'constrained',
      width: 400,
      height: 300,
      operations: { directus: { format: 'webp' } },
    });
    const entries = String(props.srcset).split(/,\s+/).map((entry) => entry.split(' ') as [string, string]);
    expect(entries.length).toBeGreaterThan(1);
    for (const [url, descriptor] of entries) {
      const width = Number(descriptor.replace('w', ''));
      // withoutEnlargement (unpic's default for Directus): past the original, the original's size.
      const dims = await image(url);
      // @unpic/core 1.0 puts the operations (format) on src only, not on the srcset entries.
      expect(dims, url).toMatchObject({ width: Math.min(width, photo.width as number) });
      expect(dims.height, url).toBe(Math.round((dims.width * 3) / 4));
    }
    const src = await image(String(props.src));
    expect(src).toMatchObject({ format: 'webp', width: 400, height: 300 });
  });
});

/** A Next.js `images.loader` (next.config.js: `images: { loader: 'custom', loaderFile: './directus-loader.js' }`), as the README shows it. */
function directusLoader({ src, width, quality }: { src: string; width: number; quality?: number }): string {
  const url = new URL(`/assets/${src}`, ORIGIN);
  url.searchParams.set('width', String(width));
  url.searchParams.set('quality', String(quality ?? 75));
  url.searchParams.set('format', 'auto');
  return url.toString();
}

describe('a Next.js image loader', () => {
  it('each width Next.js asks for, in the best format the browser accepts', async () => {
    for (const width of [64, 256, 384]) {
      const url = directusLoader({ src: photo.id, width });
      expect(await image(url, 'image/avif,image/webp,*/*')).toMatchObject({ format: 'avif', width });
      expect(await image(url, 'image/webp,*/*')).toMatchObject({ format: 'webp', width });
      expect(await image(url, 'image/png,image/jpeg,*/*')).toMatchObject({ format: 'jpeg', width });
    }
    expect(await image(directusLoader({ src: photo.id, width: 128, quality: 40 }))).toMatchObject({ width: 128 });
  });
});

describe("@directus/sdk's asset helpers", () => {
  const client = createDirectus(ORIGIN, { globals: { fetch: worker as typeof fetch } }).with(rest());

  it('readAssetArrayBuffer and readAssetRaw with transforms', async () => {
    const cropped = described(new Uint8Array(await client.request(readAssetArrayBuffer(photo.id, { width: 200, height: 100, fit: 'cover', format: 'png' }))));
    expect(cropped).toEqual({ format: 'png', width: 200, height: 100 });
    const stream = await client.request(readAssetRaw(photo.id, { width: 120, format: 'webp', quality: 50 }));
    const dims = described(new Uint8Array(await new Response(stream).arrayBuffer()));
    expect(dims).toMatchObject({ format: 'webp', width: 120 });
  });
});
