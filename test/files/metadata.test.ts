import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { app } from '../../src/app';
import { ADMIN_TOKEN, api, bytes, errorOf, type FileJson, fixture, form, sha256, testClient, uploadFile } from '../helpers';

const client = testClient();

describe('type sniffing', () => {
  const cases: [string, string, string, string][] = [
    ['photo-meta.jpg', 'application/octet-stream', 'image/jpeg', 'jpg'],
    ['alpha.png', '', 'image/png', 'png'],
    ['image.webp', 'image/png', 'image/webp', 'webp'],
    ['anim.gif', 'text/plain', 'image/gif', 'gif'],
    ['image.svg', 'text/xml', 'image/svg+xml', 'svg'],
    ['doc.pdf', 'application/octet-stream', 'application/pdf', 'pdf'],
  ];
  for (const [name, declared, type, ext] of cases) {
    it(`${name} declared "${declared}" is ${type}`, async () => {
      const file = await uploadFile({ name: `upload-${name}`, data: fixture(name), type: declared });
      expect(file.type).toBe(type);
      expect(file.filename_disk).toBe(`${file.id}.${ext}`);
      expect((await client.getObject(file.filename_disk))?.contentType).toBe(type);
    });
  }

  it('a PNG uploaded as photo.jpg with image/jpeg is recorded as image/png', async () => {
    const file = await uploadFile({ name: 'photo.jpg', data: fixture('alpha.png'), type: 'image/jpeg' });
    expect(file).toMatchObject({ type: 'image/png', filename_disk: `${file.id}.png`, filename_download: 'photo.jpg' });
  });

  it('uses the declared type only when the bytes say nothing', async () => {
    expect((await uploadFile({ name: 'data.csv', data: 'a,b\n1,2\n', type: 'text/csv' })).type).toBe('text/csv');
    expect((await uploadFile({ name: 'notes', data: 'just some text', type: '' })).type).toBe('text/plain');
    const random = await uploadFile({ name: 'random.jpg', data: bytes(4096, 61), type: '' });
    expect(random.type).toBe('application/octet-stream');
    expect(random.width).toBeNull();
  });
});

describe('checksum and dimensions', () => {
  it('checksum is the SHA-256 of the bytes, computed while streaming', async () => {
    const data = bytes(7 * 1024 * 1024 + 5, 62);
    const file = await uploadFile({ name: 'big.bin', data });
    expect(file.checksum).toBe(await sha256(data));
  });

  const dims: [string, number, number][] = [
    ['photo-meta.jpg', 64, 48],
    ['alpha.png', 32, 24],
    ['image.webp', 40, 30],
    ['anim.gif', 20, 10],
    ['portrait-o6.jpg', 40, 60],
  ];
  for (const [name, width, height] of dims) {
    it(`${name} is ${width}×${height} as displayed`, async () => {
      const file = await uploadFile({ name, data: fixture(name) });
      expect([file.width, file.height]).toEqual([width, height]);
    });
  }
});

describe('EXIF, IPTC and XMP', () => {
  it('fills title, description, tags, location and allow-listed metadata', async () => {
    const file = await uploadFile({ name: 'photo-meta.jpg', data: fixture('photo-meta.jpg') });
    expect(file).toMatchObject({
      title: 'IPTC Headline',
      description: 'IPTC caption',
      tags: ['paris', 'tower'],
      location: '48.8584,2.2945',
    });
    expect(file.metadata).toMatchObject({ Make: 'Canon', Model: 'EOS R5', ISOSpeedRatings: 400, DateTimeOriginal: '2024:05:06 07:08:09', Orientation: 1 });
    expect(Object.keys(file.metadata ?? {}).sort()).toEqual(['DateTimeOriginal', 'ExposureTime', 'FNumber', 'FocalLength', 'ISOSpeedRatings', 'Make', 'Model', 'Orientation']);
  });

  it('reads XMP dc:title, dc:description and dc:subject', async () => {
    const file = await uploadFile({ name: 'xmp-only.jpg', data: fixture('xmp-only.jpg') });
    expect(file).toMatchObject({ title: 'XMP title', description: 'XMP description', tags: ['alpha', 'beta'] });
  });

  it('values the uploader sets win over scraped ones', async () => {
    const file = await uploadFile({ name: 'photo-meta.jpg', data: fixture('photo-meta.jpg') }, { title: 'Mine', tags: '["own"]' });
    expect(file).toMatchObject({ title: 'Mine', tags: ['own'], description: 'IPTC caption' });
  });

  it('a file without a title gets a readable one from its name', async () => {
    expect((await uploadFile({ name: 'my_photo-2024.png', data: fixture('alpha.png') })).title).toBe('My Photo 2024');
  });

  it('FILE_METADATA_ALLOW_LIST=* keeps every readable field', async () => {
    const res = await app.request('/files', { method: 'POST', body: form([{ name: 'p.jpg', data: fixture('photo-meta.jpg') }]), headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }, { ...env, FILE_METADATA_ALLOW_LIST: '*' });
    const file = ((await res.json()) as { data: FileJson }).data;
    expect(file.metadata).toMatchObject({ Make: 'Canon', ImageDescription: 'EXIF description', Headline: 'IPTC Headline' });
  });

  it('a truncated JPEG and a JPEG with garbage metadata still upload', async () => {
    const jpeg = fixture('photo-meta.jpg');
    const truncated = await uploadFile({ name: 'cut.jpg', data: jpeg.slice(0, 200) });
    expect(truncated.type).toBe('image/jpeg');
    const garbage = new Uint8Array([0xff, 0xd8, 0xff, 0xe1, 0x00, 0x40, ...new TextEncoder().encode('Exif\0\0'), ...bytes(58, 63)]);
    const broken = await uploadFile({ name: 'broken.jpg', data: garbage });
    expect(broken.type).toBe('image/jpeg');
    expect(broken.metadata).toBeNull();
  });

  it('reads metadata that runs past the first 256 KiB with Range reads of the prefix', async () => {
    // An APP15 segment of 60 KiB × 5 between SOI and the EXIF segment pushes the metadata past the head.
    const jpeg = fixture('photo-meta.jpg');
    const filler: number[] = [];
    for (let i = 0; i < 5; i++) filler.push(0xff, 0xef, 0xf0, 0x00, ...new Uint8Array(0xf000 - 2));
    const padded = new Uint8Array([0xff, 0xd8, ...filler, ...jpeg.slice(2)]);
    expect(padded.byteLength).toBeGreaterThan(256 * 1024);
    const file = await uploadFile({ name: 'padded.jpg', data: padded });
    expect(file).toMatchObject({ width: 64, height: 48, title: 'IPTC Headline', location: '48.8584,2.2945' });
  });
});

describe('FILES_MIME_TYPE_ALLOW_LIST', () => {
  const vars = { ...env, FILES_MIME_TYPE_ALLOW_LIST: 'image/*,application/pdf' };
  const post = (body: FormData, path = '/files') => app.request(path, { method: 'POST', body, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }, vars);

  it('checks the sniffed type, not the declared one: 415 and nothing stored', async () => {
    const count = async () => ((await (await api('/files?meta=total_count&limit=0')).json()) as { meta: { total_count: number } }).meta.total_count;
    const before = await count();
    const before3 = await Array.fromAsync(client.listAll(''));
    const lying = await post(form([{ name: 'evil.png', data: 'MZ this is not a png at all', type: 'image/png' }]));
    expect(await errorOf(lying)).toMatchObject({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
    expect(await count()).toBe(before);
    expect((await Array.fromAsync(client.listAll(''))).length).toBe(before3.length);
    expect((await post(form([{ name: 'a.png', data: fixture('alpha.png') }]))).status).toBe(200);
    expect((await post(form([{ name: 'a.pdf', data: fixture('doc.pdf') }]))).status).toBe(200);
  });

  it('applies to replacements', async () => {
    const file = await uploadFile({ name: 'x.png', data: fixture('alpha.png') });
    const res = await app.request(`/files/${file.id}`, { method: 'PATCH', body: form([{ name: 'x.txt', data: 'text now' }]), headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }, vars);
    expect(await errorOf(res)).toMatchObject({ status: 415 });
    expect((await api(`/files/${file.id}`).then((r) => r.json()) as { data: FileJson }).data.type).toBe('image/png');
  });

  it('a bad glob is a configuration error naming the variable', async () => {
    const res = await app.request('/server/health', {}, { ...env, FILES_MIME_TYPE_ALLOW_LIST: 'images' });
    expect(await errorOf(res)).toMatchObject({ status: 500, code: 'INVALID_CONFIG', message: expect.stringContaining('FILES_MIME_TYPE_ALLOW_LIST') });
  });
});

describe('large non-image upload', () => {
  it('reads only the head for metadata: a 12 MiB video-like file uploads with flat metadata work', async () => {
    const data = new Uint8Array(12 * 1024 * 1024);
    data.set([0, 0, 0, 0x18, ...new TextEncoder().encode('ftypmp42')], 0);
    const file = await uploadFile({ name: 'clip.mp4', data });
    expect(file.type).toBe('video/mp4');
    expect(file.filesize).toBe(String(data.byteLength));
    expect(file.width).toBeNull();
  });
});
