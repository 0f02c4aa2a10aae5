/**
 * `format=tiff`: a baseline TIFF 6.0 file, 8-bit RGB (RGBA when any pixel is not opaque, with the
 * alpha unassociated), in strips compressed with deflate (Adobe's, compression 8) after horizontal
 * differencing (predictor 2): lossless, as a TIFF is expected to be, and about a PNG's size. The
 * platform's own zlib does the compression (CompressionStream), so nothing is added to the bundle.
 * Layout: the 8-byte header, the strips, then the one directory and its out-of-line values.
 */

/** Uncompressed bytes a strip covers at most: libtiff's advice is ~8 KB; larger strips compress better. */
const STRIP_BYTES = 64 * 1024;

/** Encodes `rgba` (width × height × 4) as a little-endian TIFF. */
export async function encodeTiff(rgba: Uint8Array, width: number, height: number): Promise<Uint8Array> {
  let opaque = true;
  for (let i = 3; i < rgba.length && opaque; i += 4) opaque = rgba[i] === 255;
  const spp = opaque ? 3 : 4;
  const rowBytes = width * spp;
  const rowsPerStrip = Math.max(1, Math.min(height, Math.floor(STRIP_BYTES / rowBytes)));
  const strips: Uint8Array[] = [];
  for (let y0 = 0; y0 < height; y0 += rowsPerStrip) {
    const rows = Math.min(rowsPerStrip, height - y0);
    strips.push(await deflate(differenced(rgba, width, y0, rows, spp)));
  }

  const stripsBytes = strips.reduce((n, s) => n + s.length, 0);
  // The directory is word-aligned, as TIFF 6.0 asks.
  const ifd = 8 + stripsBytes + (stripsBytes & 1);
  const offsets: number[] = [];
  let at = 8;
  for (const s of strips) {
    offsets.push(at);
    at += s.length;
  }
  const entries: [tag: number, type: 3 | 4 | 5, values: number[]][] = [
    [256, 4, [width]],
    [257, 4, [height]],
    [258, 3, new Array<number>(spp).fill(8)],
    [259, 3, [8]],
    [262, 3, [2]],
    [273, 4, offsets],
    [277, 3, [spp]],
    [278, 4, [rowsPerStrip]],
    [279, 4, strips.map((s) => s.length)],
    [282, 5, [72, 1]],
    [283, 5, [72, 1]],
    [284, 3, [1]],
    [296, 3, [2]],
    [317, 3, [2]],
    ...(opaque ? [] : [[338, 3, [2]] as [number, 3, number[]]]),
  ];

  const size = (type: number) => (type === 3 ? 2 : 4);
  const count = (type: number, values: number[]) => (type === 5 ? values.length / 2 : values.length);
  const directoryBytes = 2 + 12 * entries.length + 4;
  const outOfLine = entries.reduce((n, [, type, values]) => (values.length * size(type) > 4 ? n + values.length * size(type) : n), 0);
  const out = new Uint8Array(ifd + directoryBytes + outOfLine);
  const view = new DataView(out.buffer);
  out.set([0x49, 0x49, 42, 0]);
  view.setUint32(4, ifd, true);
  strips.forEach((s, k) => out.set(s, offsets[k]));
  view.setUint16(ifd, entries.length, true);
  let extra = ifd + directoryBytes;
  entries.forEach(([tag, type, values], k) => {
    const e = ifd + 2 + 12 * k;
    view.setUint16(e, tag, true);
    view.setUint16(e + 2, type, true);
    view.setUint32(e + 4, count(type, values), true);
    const inline = values.length * size(type) <= 4;
    let p = inline ? e + 8 : extra;
    if (!inline) {
      view.setUint32(e + 8, extra, true);
      extra += values.length * size(type);
    }
    for (const v of values) {
      if (type === 3) view.setUint16(p, v, true);
      else view.setUint32(p, v, true);
      p += size(type);
    }
  });
  view.setUint32(ifd + directoryBytes - 4, 0, true);
  return out;
}

/** `rows` rows from `y0`, as RGB or RGBA samples, each the difference from the pixel to its left. */
function differenced(rgba: Uint8Array, width: number, y0: number, rows: number, spp: number): Uint8Array {
  const out = new Uint8Array(rows * width * spp);
  let o = 0;
  for (let y = y0; y < y0 + rows; y++) {
    const row = y * width * 4;
    for (let x = 0; x < width; x++) {
      const i = row + x * 4;
      for (let c = 0; c < spp; c++) out[o++] = ((rgba[i + c] as number) - (x > 0 ? (rgba[i + c - 4] as number) : 0)) & 255;
    }
  }
  return out;
}

async function deflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data]).stream().pipeThrough(new CompressionStream('deflate') as unknown as TransformStream<Uint8Array, Uint8Array>);
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
