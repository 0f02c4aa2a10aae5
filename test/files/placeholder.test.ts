import { PhotonImage } from '@cf-wasm/photon';
import { env } from 'cloudflare:test';
import { thumbHashToApproximateAspectRatio, thumbHashToAverageRGBA } from 'thumbhash';
import { describe, expect, it } from 'vitest';
import { getConfig } from '../../src/config';
import { FilesRepository } from '../../src/db/files-repository';
import { backfillPlaceholders } from '../../src/files/placeholder';
import { api, type FileJson, fixture, form, testClient, tusMetadata, uploadFile } from '../helpers';

const repo = new FilesRepository(env.DB);
const client = testClient();

type Rgb = [number, number, number];

/** An image of `w`×`h` whose left half is `left` and right half `right`, as PNG or JPEG. */
function halves(w: number, h: number, left: Rgb, right: Rgb, format: 'png' | 'jpg'): Uint8Array {
  const rgba = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) rgba.set([...(x < w / 2 ? left : right), 255], (y * w + x) * 4);
  }
  const img = new PhotonImage(rgba, w, h);
  try {
    return format === 'png' ? img.get_bytes() : img.get_bytes_jpeg(95);
  } finally {
    img.free();
  }
}

const fileOf = async (id: string) => ((await (await api(`/files/${id}`)).json()) as { data: FileJson & { thumbhash: string | null } }).data;
const stored = async (id: string) => (await env.DB.prepare('SELECT thumbhash FROM files WHERE id = ?').bind(id).first<{ thumbhash: string | null }>())?.thumbhash;

/** The record's thumbhash once the job after the upload has made it. */
async function placeholderOf(id: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const { thumbhash } = await fileOf(id);
    if (thumbhash) return thumbhash;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no placeholder for ${id}`);
}

/** What a page gets back from a ThumbHash: its average colour (0–255) and its aspect ratio. */
function decoded(hash: string) {
  const { r, g, b, a } = thumbHashToAverageRGBA(Uint8Array.from(atob(hash), (c) => c.charCodeAt(0)));
  return { rgb: [r * 255, g * 255, b * 255], alpha: a, aspect: thumbHashToApproximateAspectRatio(Uint8Array.from(atob(hash), (c) => c.charCodeAt(0))) };
}

/**
 * ThumbHash keeps the aspect only as the ratio of its DCT sizes (7 along the longer side, the other
 * rounded), so a 2:1 image comes back as 7:4 and 1:2 as 4:7: within 15%, never exact.
 */
function expectAspect(actual: number, expected: number): void {
  expect(actual / expected, `aspect ${actual} vs ${expected}`).toBeGreaterThan(0.85);
  expect(actual / expected, `aspect ${actual} vs ${expected}`).toBeLessThan(1.15);
}

function expectClose(actual: number[], expected: number[], within: number): void {
  actual.forEach((v, i) => expect(Math.abs(v - (expected[i] as number)), `channel ${i}: ${v} vs ${expected[i]}`).toBeLessThanOrEqual(within));
}

describe('placeholders', () => {
  it('a PNG upload gets a ThumbHash with its average colour and aspect ratio', async () => {
    const file = await uploadFile({ name: 'halves.png', data: halves(300, 150, [255, 0, 0], [0, 0, 255], 'png') });
    const hash = await placeholderOf(file.id);
    const d = decoded(hash);
    expectClose(d.rgb, [127.5, 0, 127.5], 12);
    expect(d.alpha).toBeCloseTo(1, 2);
    expectAspect(d.aspect, 2);
  });

  it('a portrait JPEG too, and a JPEG turned by EXIF gets the aspect it is shown in', async () => {
    const file = await uploadFile({ name: 'tall.jpg', data: halves(120, 240, [200, 120, 40], [200, 120, 40], 'jpg') });
    const d = decoded(await placeholderOf(file.id));
    expectClose(d.rgb, [200, 120, 40], 8);
    expectAspect(d.aspect, 0.5);
    // portrait-o6.jpg's pixels are stored landscape and shown portrait (EXIF orientation 6); the record
    // gives the shown size, as Directus does, and so must the placeholder.
    const turned = await uploadFile({ name: 'o6.jpg', data: fixture('portrait-o6.jpg') });
    expect(turned.width).toBeLessThan(turned.height as number);
    expect(decoded(await placeholderOf(turned.id)).aspect).toBeLessThan(1);
  });

  it('a TUS upload gets one', async () => {
    const data = halves(160, 160, [0, 200, 0], [0, 200, 0], 'png');
    const made = await api('/files/tus', {
      method: 'POST',
      headers: { 'tus-resumable': '1.0.0', 'upload-length': String(data.byteLength), 'upload-metadata': tusMetadata({ filename: 'green.png' }), 'content-type': 'application/offset+octet-stream' },
      body: data,
    });
    expect(made.status).toBe(201);
    const id = made.headers.get('directus-file-id') as string;
    expectClose(decoded(await placeholderOf(id)).rgb, [0, 200, 0], 8);
  });

  it('a replacement gets the new bytes’ placeholder', async () => {
    const file = await uploadFile({ name: 'red.png', data: halves(64, 64, [255, 0, 0], [255, 0, 0], 'png') });
    expectClose(decoded(await placeholderOf(file.id)).rgb, [255, 0, 0], 8);
    const res = await api(`/files/${file.id}`, { method: 'PATCH', body: form([{ name: 'blue.png', data: halves(64, 64, [0, 0, 255], [0, 0, 255], 'png') }]) });
    expect(res.status).toBe(200);
    expectClose(decoded(await placeholderOf(file.id)).rgb, [0, 0, 255], 8);
  });

  it('files that are not images have none, and the record says null', async () => {
    const file = await uploadFile({ name: 'doc.pdf', data: fixture('doc.pdf') });
    expect((file as FileJson & { thumbhash: unknown }).thumbhash).toBeNull();
    expect(await stored(file.id)).toBe('');
    expect((await fileOf(file.id)).thumbhash).toBeNull();
  });

  it('an image the engine refuses gets none for good, and the record says null', async () => {
    // A PNG header claiming 100,000 × 100,000 pixels: refused before a pixel is decoded.
    const png = halves(4, 4, [1, 2, 3], [1, 2, 3], 'png');
    new DataView(png.buffer, png.byteOffset).setUint32(16, 100_000);
    new DataView(png.buffer, png.byteOffset).setUint32(20, 100_000);
    const file = await uploadFile({ name: 'huge.png', data: png });
    for (let i = 0; i < 100 && (await stored(file.id)) === null; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await stored(file.id)).toBe('');
    expect((await fileOf(file.id)).thumbhash).toBeNull();
  });

  it('the sweep fills in images that have none yet, and a file without bytes does not hold it up', async () => {
    const older = await uploadFile({ name: 'older.png', data: halves(50, 100, [10, 20, 240], [10, 20, 240], 'png') });
    const gone = await uploadFile({ name: 'gone.png', data: halves(50, 50, [9, 9, 9], [9, 9, 9], 'png') });
    await placeholderOf(older.id);
    await placeholderOf(gone.id);
    // As files uploaded before placeholders existed: waiting, the oldest first; one has lost its bytes.
    await env.DB.prepare("UPDATE files SET thumbhash = NULL, created_on = '2000-01-01T00:00:00.000Z' WHERE id IN (?, ?)").bind(older.id, gone.id).run();
    await client.deleteObject(gone.filename_disk);
    const result = await backfillPlaceholders(getConfig(env as unknown as Record<string, unknown>), repo, 2);
    expect(result).toEqual({ made: 1, failed: 1 });
    expectAspect(decoded((await fileOf(older.id)).thumbhash as string).aspect, 0.5);
    expect(await stored(gone.id)).toBe('');
  });

  it('a placeholder of bytes since replaced is not stored', async () => {
    const file = await uploadFile({ name: 'stale.png', data: halves(32, 32, [1, 1, 1], [1, 1, 1], 'png') });
    await placeholderOf(file.id);
    await env.DB.prepare('UPDATE files SET thumbhash = NULL WHERE id = ?').bind(file.id).run();
    expect(await repo.setThumbhash(file.id, '1999-01-01T00:00:00.000Z', 'stale')).toBe(false);
    expect(await stored(file.id)).toBeNull();
  });
});
