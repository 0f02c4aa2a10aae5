import { PhotonImage } from '@cf-wasm/photon';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readDimensions } from '../../src/images/dimensions';
import { api, errorOf, type FileJson, fixture, form, testClient, uploadFile } from '../helpers';

const client = testClient();

/** A test image made with photon: a colour gradient, so resizes and crops are real work. */
function image(width: number, height: number, format: 'jpg' | 'png', alpha = false): Uint8Array {
  const raw = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      raw[i] = (x * 255) / width;
      raw[i + 1] = (y * 255) / height;
      raw[i + 2] = ((x + y) * 7) % 256;
      raw[i + 3] = alpha && x < width / 2 ? 0 : 255;
    }
  }
  const img = new PhotonImage(raw, width, height);
  try {
    return format === 'jpg' ? img.get_bytes_jpeg(90) : img.get_bytes();
  } finally {
    img.free();
  }
}

async function thumb(id: string, query: string, headers: Record<string, string> = {}) {
  const res = await api(`/assets/${id}?${query}`, { token: null, headers });
  const body = new Uint8Array(await res.arrayBuffer());
  const dims = readDimensions(body);
  return { res, body, dims: dims && 'width' in dims ? [dims.width, dims.height] : undefined, format: dims && 'format' in dims ? dims.format : undefined };
}

const json = { 'content-type': 'application/json' };
async function setTransforms(mode: 'all' | 'presets' | 'none', presets?: unknown[]) {
  const res = await api('/settings', { method: 'PATCH', headers: json, body: JSON.stringify({ storage_asset_transform: mode, ...(presets ? { storage_asset_presets: presets } : {}) }) });
  expect(res.status, await res.clone().text()).toBe(200);
}

let landscape: FileJson;
let portrait: FileJson;
let square: FileJson;
let alpha: FileJson;

describe('thumbnails', () => {
  it('uploads the sources', async () => {
    landscape = await uploadFile({ name: 'landscape.jpg', data: image(600, 400, 'jpg') });
    portrait = await uploadFile({ name: 'portrait.jpg', data: image(400, 600, 'jpg') });
    square = await uploadFile({ name: 'square.png', data: image(500, 500, 'png') });
    alpha = await uploadFile({ name: 'alpha.png', data: image(200, 100, 'png', true) });
    expect([landscape.width, landscape.height]).toEqual([600, 400]);
  });

  const cases: [() => FileJson, string, [number, number]][] = [
    [() => landscape, 'width=300&height=300&fit=cover', [300, 300]],
    [() => landscape, 'width=300&height=300&fit=contain', [300, 200]],
    [() => landscape, 'width=300&height=300&fit=inside', [300, 200]],
    [() => landscape, 'width=300&height=300&fit=outside', [450, 300]],
    [() => landscape, 'width=150', [150, 100]],
    [() => landscape, 'height=100', [150, 100]],
    [() => landscape, 'width=1200', [1200, 800]],
    [() => landscape, 'width=1200&withoutEnlargement=true', [600, 400]],
    [() => landscape, 'width=1200&withoutEnlargement=false', [1200, 800]],
    [() => landscape, 'w=300&h=100&f=crop', [300, 100]],
    [() => portrait, 'width=300&height=300&fit=cover', [300, 300]],
    [() => portrait, 'width=300&height=300&fit=inside', [200, 300]],
    [() => portrait, 'width=200', [200, 300]],
    [() => square, 'width=300&height=200&fit=cover&format=png', [300, 200]],
    [() => square, 'width=300&height=200&fit=inside&format=png', [200, 200]],
    [() => landscape, 'width=2000&height=2000&fit=cover&withoutEnlargement=true', [600, 400]],
  ];
  for (const [file, query, size] of cases) {
    it(`${query} → ${size.join('×')}`, async () => {
      const { res, dims } = await thumb(file().id, query);
      expect(res.status).toBe(200);
      expect(dims).toEqual(size);
    });
  }

  it('applies EXIF orientation: a 60×40 JPEG with Orientation 6 comes out portrait', async () => {
    const rotated = await uploadFile({ name: 'o6.jpg', data: fixture('portrait-o6.jpg') });
    expect((await thumb(rotated.id, 'width=20')).dims).toEqual([20, 30]);
  });

  it('a cover crop lands on the focal point in every EXIF orientation (it is cut before the pixels are turned)', async () => {
    // What a viewer sees: 120×80, red growing to the right, green downwards.
    const W = 120;
    const H = 80;
    for (let o = 1; o <= 8; o++) {
      const swapped = o >= 5;
      const [w, h] = swapped ? [H, W] : [W, H];
      const stored = new Uint8Array(w * h * 4);
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          // Where orientation `o` takes this displayed pixel from (the inverse of what a viewer applies).
          const [sx, sy] = [[x, y], [w - 1 - x, y], [w - 1 - x, h - 1 - y], [x, h - 1 - y], [y, x], [y, h - 1 - x], [w - 1 - y, h - 1 - x], [w - 1 - y, x]][o - 1] as [number, number];
          const i = (sy * w + sx) * 4;
          stored.set([Math.round((x * 255) / (W - 1)), Math.round((y * 255) / (H - 1)), 0, 255], i);
        }
      }
      const img = new PhotonImage(stored, w, h);
      const jpeg = img.get_bytes_jpeg(100);
      img.free();
      const exif = [0xff, 0xe1, 0, 34, ...new TextEncoder().encode('Exif\0\0'), 0x4d, 0x4d, 0, 0x2a, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, o, 0, 0, 0, 0, 0, 0];
      const file = await uploadFile({ name: `o${o}.jpg`, data: new Uint8Array([...jpeg.subarray(0, 2), ...exif, ...jpeg.subarray(2)]) });
      // 120×80 → 45×30, then the 30×30 around x=90: displayed columns 40–120.
      const out = await thumb(file.id, 'width=30&height=30&fit=cover&focal_point_x=90&focal_point_y=20&format=png');
      expect(out.dims, `orientation ${o}`).toEqual([30, 30]);
      const px = PhotonImage.new_from_byteslice(out.body);
      const raw = px.get_raw_pixels();
      px.free();
      const at = (x: number, y: number, c: number) => raw[(y * 30 + x) * 4 + c] as number;
      const mean = (f: (i: number) => number) => Array.from({ length: 30 }, (_, i) => f(i)).reduce((a, b) => a + b, 0) / 30;
      expect(mean((y) => at(0, y, 0)), `orientation ${o}: red at the left`).toBeGreaterThan(70);
      expect(mean((y) => at(0, y, 0)), `orientation ${o}: red at the left`).toBeLessThan(110);
      expect(mean((y) => at(29, y, 0)), `orientation ${o}: red at the right`).toBeGreaterThan(235);
      expect(mean((x) => at(x, 0, 1)), `orientation ${o}: green at the top`).toBeLessThan(25);
      expect(mean((x) => at(x, 29, 1)), `orientation ${o}: green at the bottom`).toBeGreaterThan(230);
    }
  });

  it('quality orders sizes, and every format decodes', async () => {
    const low = await thumb(landscape.id, 'width=400&quality=30&format=jpg');
    const high = await thumb(landscape.id, 'width=400&quality=90&format=jpg');
    expect(low.body.byteLength).toBeLessThan(high.body.byteLength);
    for (const [format, type, sniffed] of [['jpg', 'image/jpeg', 'jpeg'], ['jpeg', 'image/jpeg', 'jpeg'], ['png', 'image/png', 'png'], ['webp', 'image/webp', 'webp'], ['avif', 'image/avif', 'avif']] as const) {
      const out = await thumb(landscape.id, `width=100&format=${format}`);
      expect(out.res.headers.get('content-type')).toBe(type);
      expect(out.res.headers.get('content-disposition')).toContain(`.${format === 'jpeg' ? 'jpg' : format}"`);
      expect(out.format).toBe(sniffed);
      expect(out.dims).toEqual([100, 67]);
      // AVIF is decoded with sharp in the Node suite; photon reads the others.
      if (format === 'avif') continue;
      const decoded = PhotonImage.new_from_byteslice(out.body);
      expect([decoded.get_width(), decoded.get_height()]).toEqual([100, 67]);
      decoded.free();
    }
  });

  it('WebP is lossy, within 20% of the JPEG at the same quality; lossless only for a lossless source at quality=100', async () => {
    const chunk = (body: Uint8Array) => String.fromCharCode(...body.subarray(12, 16));
    for (const quality of [50, 80, 90]) {
      const jpeg = await thumb(landscape.id, `width=400&quality=${quality}&format=jpg`);
      const webp = await thumb(landscape.id, `width=400&quality=${quality}&format=webp`);
      expect(chunk(webp.body)).toBe('VP8 ');
      expect(webp.body.byteLength, `quality ${quality}`).toBeLessThanOrEqual(jpeg.body.byteLength * 1.2);
    }
    expect(chunk((await thumb(landscape.id, 'width=100&quality=100&format=webp')).body)).toBe('VP8 ');
    expect(chunk((await thumb(square.id, 'width=100&quality=80&format=webp')).body)).toBe('VP8 ');
    expect(chunk((await thumb(square.id, 'width=100&quality=100&format=webp')).body)).toBe('VP8L');
    // Alpha survives lossy WebP: VP8X with an ALPH chunk.
    const transparent = (await thumb(alpha.id, 'width=100&format=webp')).body;
    expect(chunk(transparent)).toBe('VP8X');
    expect(new TextDecoder('latin1').decode(transparent)).toContain('ALPH');
  });

  it('AVIF output is capped at 1 MP (its encoder\'s memory): format=avif past it is a 400 that says so', async () => {
    const error = await errorOf(await api(`/assets/${landscape.id}?width=1500&format=avif`, { token: null }));
    expect(error).toMatchObject({ status: 400, code: 'INVALID_QUERY' });
    expect(error.message).toMatch(/AVIF output is limited to 1000000 pixels.*1500×1000.*format=webp/);
    expect((await thumb(landscape.id, 'width=1200&format=avif')).dims).toEqual([1200, 800]);
  });

  it('format=auto: AVIF, then WebP, by Accept; else JPEG (PNG for sources with alpha); Vary: Accept', async () => {
    const cases: [FileJson, string, string, string][] = [
      [landscape, 'width=50', 'image/avif,image/webp,*/*', 'image/avif'],
      [landscape, 'width=50', 'image/webp,*/*', 'image/webp'],
      [landscape, 'width=50', 'image/avif', 'image/avif'],
      [landscape, 'width=50', '*/*', 'image/jpeg'],
      [landscape, 'width=50', 'text/html', 'image/jpeg'],
      // Past AVIF's 1 MP cap auto takes the next choice.
      [landscape, 'width=1500', 'image/avif,image/webp', 'image/webp'],
      [alpha, 'width=50', 'image/avif,image/webp,*/*', 'image/avif'],
      [alpha, 'width=50', 'image/webp', 'image/webp'],
      [alpha, 'width=50', 'image/png,*/*', 'image/png'],
    ];
    for (const [file, query, accept, type] of cases) {
      const out = await thumb(file.id, `${query}&format=auto`, { accept });
      expect(out.res.headers.get('content-type'), `${file.filename_download} ${query} ${accept}`).toBe(type);
      expect(out.res.headers.get('vary')).toBe('Accept');
    }
    // No format at all is auto too.
    expect((await thumb(alpha.id, 'width=50', { accept: 'text/html' })).res.headers.get('content-type')).toBe('image/png');
  });

  it('HEIC is refused with a 422 that says why; its original is still served', async () => {
    // An ISOBMFF header with the HEIC brand: what file-type and Directus call image/heic.
    const heic = new Uint8Array(64);
    heic.set([0, 0, 0, 24], 0);
    heic.set(new TextEncoder().encode('ftypheic\0\0\0\0mif1heic'), 4);
    const file = await uploadFile({ name: 'photo.heic', data: heic });
    expect(file.type).toBe('image/heic');
    const error = await errorOf(await api(`/assets/${file.id}?width=50`));
    expect(error).toMatchObject({ status: 422, code: 'UNPROCESSABLE_IMAGE' });
    expect(error.message).toMatch(/HEIC.*patent-encumbered/);
    expect((await api(`/assets/${file.id}`)).status).toBe(200);
  });

  it('flattens alpha on white for JPEG', async () => {
    const out = await thumb(alpha.id, 'width=20&format=jpg');
    const img = PhotonImage.new_from_byteslice(out.body);
    const px = img.get_raw_pixels();
    img.free();
    expect(px[0]).toBeGreaterThan(240);
    expect(px[1]).toBeGreaterThan(240);
    expect(px[2]).toBeGreaterThan(240);
  });

  const refused: [string, RegExp][] = [
    ['width=0', /"width"/],
    ['width=abc', /"width"/],
    ['width=99999', /from 1 to 6000/],
    ['height=-5', /"height"/],
    ['fit=stretch', /"fit"/],
    ['quality=101', /"quality" must be a whole number from 1 to 100/],
    ['format=gif', /"format"/],
    ['withoutEnlargement=maybe', /withoutEnlargement/],
    ['key=nope', /Unknown preset "nope"/],
  ];
  for (const [query, message] of refused) {
    it(`${query} → 400 INVALID_QUERY`, async () => {
      const error = await errorOf(await api(`/assets/${landscape.id}?${query}`, { token: null }));
      expect(error).toMatchObject({ status: 400, code: 'INVALID_QUERY' });
      expect(error.message).toMatch(message);
    });
  }

  it('PDF and other types with transform parameters get the original (SVG is rendered: test/assets/svg.test.ts)', async () => {
    const pdf = await uploadFile({ name: 'd.pdf', data: fixture('doc.pdf') });
    const res = await api(`/assets/${pdf.id}?width=10`, { token: null });
    expect(res.headers.get('content-type')).toBe('application/pdf');
    expect(await res.text()).toContain('%PDF');
  });
});

describe('unprocessable images: 422, never a 500, and the isolate keeps working', () => {
  it('a truncated JPEG', async () => {
    const jpeg = image(300, 200, 'jpg');
    const cut = await uploadFile({ name: 'cut.jpg', data: jpeg.slice(0, jpeg.byteLength / 2) });
    expect(await errorOf(await api(`/assets/${cut.id}?width=50`))).toMatchObject({ status: 422, code: 'UNPROCESSABLE_IMAGE' });
  });

  it('random bytes named .jpg', async () => {
    const random = await uploadFile({ name: 'random.jpg', data: crypto.getRandomValues(new Uint8Array(5000)), type: 'image/jpeg' });
    expect(random.type).toBe('image/jpeg');
    expect(await errorOf(await api(`/assets/${random.id}?width=50`))).toMatchObject({ status: 422, code: 'UNPROCESSABLE_IMAGE' });
  });

  it('a JPEG whose scan data is garbage (decoder trap), then a good one', async () => {
    const jpeg = image(300, 200, 'jpg');
    const broken = jpeg.slice();
    for (let i = Math.floor(broken.length * 0.4); i < broken.length - 10; i++) broken[i] = 0xff;
    const file = await uploadFile({ name: 'broken.jpg', data: broken });
    const res = await api(`/assets/${file.id}?width=50`);
    expect([200, 422]).toContain(res.status);
    if (res.status === 422) expect((await errorOf(res)).code).toBe('UNPROCESSABLE_IMAGE');
    expect((await thumb(landscape.id, 'width=77')).dims).toEqual([77, 51]);
  });

  it('a 20000×20000 PNG that is small on disk is refused from its header, without decoding', async () => {
    const png = fixture('alpha.png').slice();
    const view = new DataView(png.buffer);
    view.setUint32(16, 20000);
    view.setUint32(20, 20000);
    const file = await uploadFile({ name: 'bomb.png', data: png });
    const started = Date.now();
    const error = await errorOf(await api(`/assets/${file.id}?width=100`));
    expect(error).toMatchObject({ status: 422, code: 'UNPROCESSABLE_IMAGE' });
    expect(error.message).toMatch(/20000×20000.*PNG sources of at most 100000000 pixels/);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('every source format', () => {
  // JPEG (baseline, progressive, CMYK) with libjpeg-turbo at the smallest scale that covers the
  // target; PNG and GIF with our own decoders, WebP with libwebp; photon only resizes and encodes.
  // A 12 MP progressive JPEG keeps ~36 MB of coefficients while it decodes, within the budget; a
  // 24 MP PNG is streamed from storage and averaged into twice the target as its rows come.
  // [file, query, size, distinct colours at least]: anim.gif's first frame is plain red.
  const cases: [string, string, [number, number], number][] = [
    ['progressive.jpg', 'width=30&format=png', [30, 23], 10],
    ['generated-progressive-12mp.jpg', 'width=400&format=jpg', [400, 300], 10],
    ['generated-cmyk.jpg', 'width=20&format=png', [20, 15], 10],
    ['alpha.png', 'width=16&format=png', [16, 12], 2],
    ['generated-24mp.png', 'width=300&format=jpg', [300, 200], 10],
    ['generated-24mp.png', 'width=200&height=200&fit=cover&format=png', [200, 200], 10],
    ['anim.gif', 'width=10&format=png', [10, 5], 1],
    ['image.webp', 'width=20&format=png', [20, 15], 10],
    ['image.webp', 'width=40&format=webp', [40, 30], 10],
    ['generated.avif', 'width=40&format=png', [40, 30], 10],
  ];
  for (const [name, query, size, colours] of cases) {
    it(`${name} ${query} → ${size.join('×')}`, async () => {
      const file = await uploadFile({ name, data: fixture(name) });
      const { res, dims, body } = await thumb(file.id, query);
      expect(res.status).toBe(200);
      expect(dims).toEqual(size);
      // The picture's pixels, not a blank: as many colours as the source has, not all transparent black.
      const img = PhotonImage.new_from_byteslice(body);
      try {
        const raw = img.get_raw_pixels();
        const pixels = Array.from({ length: raw.length / 4 }, (_, i) => raw.subarray(i * 4, i * 4 + 4).join(','));
        expect(new Set(pixels).size).toBeGreaterThanOrEqual(colours);
        expect(pixels.some((p) => p !== '0,0,0,0')).toBe(true);
        if (name === 'anim.gif') expect(pixels[0]).toBe('255,0,0,255');
      } finally {
        img.free();
      }
    });
  }
});

describe('Directus transforms', () => {
  const q = (ops: unknown) => `transforms=${encodeURIComponent(JSON.stringify(ops))}`;
  const pixels = (body: Uint8Array) => {
    const img = PhotonImage.new_from_byteslice(body);
    try {
      return { width: img.get_width(), height: img.get_height(), raw: img.get_raw_pixels() };
    } finally {
      img.free();
    }
  };

  it('rotate acts before the resize: width describes the turned image', async () => {
    expect((await thumb(landscape.id, `width=300&${q([['rotate', 90]])}`)).dims).toEqual([300, 450]);
    expect((await thumb(landscape.id, `width=300&${q([['rotate', 180]])}`)).dims).toEqual([300, 200]);
    expect((await thumb(landscape.id, `width=300&${q([['rotate', 0]])}`)).dims).toEqual([300, 200]);
  });

  it('flip mirrors the rows, flop the columns, negate inverts, grayscale makes R=G=B', async () => {
    const plain = pixels((await thumb(landscape.id, 'width=60&format=png')).body);
    const flipped = pixels((await thumb(landscape.id, `width=60&format=png&${q([['flip']])}`)).body);
    const flopped = pixels((await thumb(landscape.id, `width=60&format=png&${q([['flop']])}`)).body);
    const negated = pixels((await thumb(landscape.id, `width=60&format=png&${q([['negate']])}`)).body);
    const grey = pixels((await thumb(landscape.id, `width=60&format=png&${q([['greyscale']])}`)).body);
    const { width: w, height: h } = plain;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = (y * w + x) * 4;
        expect(flipped.raw.subarray(((h - 1 - y) * w + x) * 4, ((h - 1 - y) * w + x) * 4 + 4)).toEqual(plain.raw.subarray(i, i + 4));
        expect(flopped.raw.subarray((y * w + w - 1 - x) * 4, (y * w + w - 1 - x) * 4 + 4)).toEqual(plain.raw.subarray(i, i + 4));
        expect([negated.raw[i], negated.raw[i + 3]]).toEqual([255 - (plain.raw[i] as number), 255]);
        expect(grey.raw[i]).toBe(grey.raw[i + 1]);
        expect(grey.raw[i + 1]).toBe(grey.raw[i + 2]);
      }
    }
  });

  it('each transforms list is its own derivative (cache key and ETag)', async () => {
    const plain = await thumb(landscape.id, 'width=70');
    const blurred = await thumb(landscape.id, `width=70&${q([['blur', 3]])}`);
    const again = await thumb(landscape.id, `width=70&${q([['blur', 3]])}`);
    expect(blurred.res.headers.get('etag')).not.toBe(plain.res.headers.get('etag'));
    expect(again.res.headers.get('x-cache')).toBe('HIT-EDGE');
    expect(again.body).toEqual(blurred.body);
  });

  it('unknown operations, bad arguments and too many operations are 400 INVALID_QUERY naming what is wrong', async () => {
    const cases: [string, RegExp][] = [
      [q([['resize', 10]]), /operation "resize" is not supported/],
      [q([['__proto__']]), /operation "__proto__" is not supported/],
      [q([['toString']]), /operation "toString" is not supported/],
      [q([['blur', 'ten']]), /blur: sigma must be a number from 0.3 to 1000/],
      [q([['blur', 0.1]]), /sigma must be a number from 0.3 to 1000/],
      [q([['rotate', 45]]), /only multiples of 90 degrees/],
      [q([['tint', 'not-a-colour']]), /tint: takes a colour/],
      [q([['modulate', { brightness: 1, glow: 2 }]]), /modulate: has no option "glow"/],
      [q([['flip', 'yes']]), /flip: takes nothing or true\/false/],
      [q([['blur', 1], ['blur', 1], ['blur', 1], ['blur', 1], ['blur', 1], ['blur', 1]]), /at most 5 are allowed \(ASSETS_TRANSFORM_MAX_OPERATIONS\)/],
      [q({ blur: 10 }), /must be a JSON array/],
      [q(['blur']), /must be an array starting with an operation's name/],
      ['transforms=[[%22blur%22', /JSON array/],
      [`transforms=${encodeURIComponent('[["modulate",{"__proto__":{"polluted":1}}]]')}`, /transforms/],
    ];
    for (const [query, message] of cases) {
      const error = await errorOf(await api(`/assets/${landscape.id}?width=50&${query}`, { token: null }));
      expect(error, query).toMatchObject({ status: 400, code: 'INVALID_QUERY' });
      expect(error.message, query).toMatch(message);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('presets may carry transforms (checked when saved); in presets mode ad-hoc transforms are refused', async () => {
    const bad = await api('/settings', { method: 'PATCH', headers: json, body: JSON.stringify({ storage_asset_presets: [{ key: 'x', transforms: [['sepia']] }] }) });
    expect(await errorOf(bad)).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD', message: expect.stringMatching(/Preset "x".*"sepia" is not supported/) });
    await setTransforms('presets', [{ key: 'grey', width: 40, format: 'png', transforms: [['grayscale'], ['rotate', 90]] }]);
    try {
      const out = pixels((await thumb(landscape.id, 'key=grey')).body);
      expect([out.width, out.height]).toEqual([40, 60]);
      expect(out.raw[0]).toBe(out.raw[1]);
      const refused = await errorOf(await api(`/assets/${landscape.id}?key=grey&${q([['blur', 2]])}`, { token: null }));
      expect(refused).toMatchObject({ status: 403, code: 'ILLEGAL_ASSET_TRANSFORMATION', message: expect.stringContaining('transforms') });
    } finally {
      await setTransforms('all', []);
    }
  });
});

describe('whitelist (settings)', () => {
  afterAll(() => setTransforms('all', []));

  it('validates settings', async () => {
    for (const body of [
      { storage_asset_transform: 'some' },
      { storage_asset_presets: [{ key: 'a' }, { key: 'a' }] },
      { storage_asset_presets: [{ key: 'a', width: 0 }] },
      { storage_asset_presets: [{ key: 'a', quality: 150 }] },
      { storage_asset_presets: [{ key: 'a', bogus: 1 }] },
    ]) {
      const error = await errorOf(await api('/settings', { method: 'PATCH', headers: json, body: JSON.stringify(body) }));
      expect(error, JSON.stringify(body)).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
    }
    expect((await api('/settings', { token: null })).status).toBe(401);
  });

  it('all: a preset, and explicit parameters override it', async () => {
    await setTransforms('all', [{ key: 'card', fit: 'cover', width: 120, height: 80, quality: 70, format: 'jpg' }]);
    const settings = (await (await api('/settings')).json()) as { data: { storage_asset_presets: unknown[] } };
    expect(settings.data.storage_asset_presets).toHaveLength(1);
    expect((await thumb(landscape.id, 'key=card')).dims).toEqual([120, 80]);
    expect((await thumb(landscape.id, 'key=card&width=60')).dims).toEqual([60, 80]);
  });

  it('presets: only key is accepted', async () => {
    await setTransforms('presets', [{ key: 'card', fit: 'cover', width: 120, height: 80 }]);
    expect((await thumb(landscape.id, 'key=card')).dims).toEqual([120, 80]);
    expect((await thumb(landscape.id, 'key=card&download')).res.headers.get('content-disposition')).toMatch(/^attachment/);
    const error = await errorOf(await api(`/assets/${landscape.id}?width=50`, { token: null }));
    expect(error).toMatchObject({ status: 403, code: 'ILLEGAL_ASSET_TRANSFORMATION' });
    expect((await api(`/assets/${landscape.id}`, { token: null })).status).toBe(200);
  });

  it('system thumbnails (Directus system-*) are allowed in every mode; their keys cannot be taken', async () => {
    for (const mode of ['all', 'presets', 'none'] as const) {
      await setTransforms(mode, []);
      expect((await thumb(landscape.id, 'key=system-small-cover')).dims, mode).toEqual([64, 64]);
      expect((await thumb(landscape.id, 'key=system-medium-contain')).dims, mode).toEqual([300, 200]);
      expect((await thumb(landscape.id, 'key=system-large-cover')).dims, mode).toEqual([800, 800]);
    }
    expect((await api(`/assets/${landscape.id}?key=system-small-cover&width=10`, { token: null })).status).toBe(403);
    const taken = await api('/settings', { method: 'PATCH', headers: json, body: JSON.stringify({ storage_asset_presets: [{ key: 'system-small-cover', width: 5 }] }) });
    expect(await errorOf(taken)).toMatchObject({ status: 400, code: 'INVALID_PAYLOAD' });
  });

  it('none: no transforms at all; no parameters still get the original', async () => {
    await setTransforms('none');
    expect(await errorOf(await api(`/assets/${landscape.id}?key=card`, { token: null }))).toMatchObject({ status: 403, code: 'ILLEGAL_ASSET_TRANSFORMATION' });
    expect((await api(`/assets/${landscape.id}`, { token: null })).status).toBe(200);
  });
});

describe('caching', () => {
  let puts = 0;
  beforeEach(() => {
    puts = 0;
    const real = globalThis.fetch;
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const request = new Request(input as RequestInfo, init);
      if (request.method === 'PUT' && new URL(request.url).pathname.includes('/generated/')) puts++;
      return real(request);
    });
  });
  afterEach(() => vi.restoreAllMocks());

  async function generatedKeys(id: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const o of client.listAll(`generated/${id}/`)) keys.push(o.key);
    return keys;
  }

  /** generated/ is written after the response (waitUntil): give it a moment. */
  async function storedKeys(id: string, expected: number): Promise<string[]> {
    for (let i = 0; i < 40; i++) {
      const keys = await generatedKeys(id);
      if (keys.length >= expected) return keys;
      await new Promise((r) => setTimeout(r, 50));
    }
    return generatedKeys(id);
  }

  it('edge cache, then generated/, then a fresh render; ETag and 304', async () => {
    const file = await uploadFile({ name: 'cache.jpg', data: image(320, 240, 'jpg') });
    const first = await thumb(file.id, 'width=64&height=64&fit=cover&quality=75');
    expect(first.res.headers.get('x-cache')).toBe('MISS');
    const etag = first.res.headers.get('etag') ?? '';
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    const second = await thumb(file.id, 'width=64&height=64&fit=cover&quality=75');
    expect(second.res.headers.get('x-cache')).toBe('HIT-EDGE');
    expect(second.body).toEqual(first.body);

    const [key] = await storedKeys(file.id, 1);
    expect(key).toMatch(new RegExp(`^generated/${file.id}/[0-9a-f]{32}\\.jpg$`));
    // Another spelling is another edge entry; `format=auto` resolved to JPEG (no WebP or AVIF in
    // Accept) is the same derivative as `format=jpg`, so it comes from generated/.
    const third = await thumb(file.id, 'width=64&height=64&fit=cover&quality=75&format=jpg');
    expect(third.res.headers.get('x-cache')).toBe('HIT-STORAGE');
    expect(third.body).toEqual(first.body);
    expect(puts).toBe(1);

    const notModified = await api(`/assets/${file.id}?width=64&height=64&fit=cover&quality=75`, { token: null, headers: { 'if-none-match': etag } });
    expect(notModified.status).toBe(304);
  });

  it('20 concurrent identical requests generate once', async () => {
    const file = await uploadFile({ name: 'herd.jpg', data: image(640, 480, 'jpg') });
    const results = await Promise.all(Array.from({ length: 20 }, () => thumb(file.id, 'width=100&height=100')));
    expect(results.every((r) => r.res.status === 200)).toBe(true);
    expect(new Set(results.map((r) => r.res.headers.get('etag'))).size).toBe(1);
    expect(await storedKeys(file.id, 1)).toHaveLength(1);
    expect(puts).toBe(1);
  });

  it('replacing the file invalidates every level; deleting removes the derivatives', async () => {
    const file = await uploadFile({ name: 'v.jpg', data: image(300, 300, 'jpg') });
    const before = await thumb(file.id, 'width=50');
    expect(await storedKeys(file.id, 1)).toHaveLength(1);
    const replaced = await api(`/files/${file.id}`, { method: 'PATCH', body: form([{ name: 'v.jpg', data: image(300, 150, 'jpg') }]) });
    expect(replaced.status).toBe(200);
    expect(await generatedKeys(file.id)).toEqual([]);
    const after = await thumb(file.id, 'width=50');
    expect(after.res.headers.get('x-cache')).toBe('MISS');
    expect(after.res.headers.get('etag')).not.toBe(before.res.headers.get('etag'));
    expect(after.dims).toEqual([50, 25]);
    expect((await api(`/files/${file.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(await generatedKeys(file.id)).toEqual([]);
    expect((await api(`/assets/${file.id}?width=50`, { token: null })).status).toBe(404);
  });
});
