/**
 * PNG (RFC 2083 / ISO 15948) decoded to 8-bit RGBA: every colour type and bit depth, PLTE, tRNS and
 * Adam7 interlacing. Inflating is the platform's own zlib (DecompressionStream), which is native
 * and checks the stream; the pure-JavaScript PNG decoder tried first (fast-png over fflate 0.8.3)
 * lost most of a valid 400 KB IDAT. The inflated data is written into a buffer of exactly the size
 * the header implies and no more, and every loop is bounded by that size.
 */

export interface PngImage {
  width: number;
  height: number;
  /** RGBA, width × height. */
  data: Uint8Array;
}

class PngError extends Error {}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
/** Adam7 passes: x start, y start, x step, y step. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

const u32 = (b: Uint8Array, i: number) => ((b[i] as number) * 2 ** 24) + (((b[i + 1] as number) << 16) | ((b[i + 2] as number) << 8) | (b[i + 3] as number));

export async function decodePng(b: Uint8Array): Promise<PngImage> {
  let i = 8;
  let header: { width: number; height: number; depth: number; colorType: number; interlace: number } | undefined;
  let palette: Uint8Array | undefined;
  let transparency: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  while (i + 8 <= b.length) {
    const length = u32(b, i);
    const type = String.fromCharCode(...b.subarray(i + 4, i + 8));
    const data = b.subarray(i + 8, i + 8 + length);
    if (data.length !== length) throw new PngError(`${type} chunk runs past the end`);
    i += 12 + length;
    if (!header && type !== 'IHDR') throw new PngError('IHDR is not the first chunk');
    if (type === 'IHDR') {
      if (header || length !== 13) throw new PngError('bad IHDR');
      const colorType = data[9] as number;
      const depth = data[8] as number;
      header = { width: u32(data, 0), height: u32(data, 4), depth, colorType, interlace: data[12] as number };
      if (header.width === 0 || header.height === 0) throw new PngError('empty image');
      if (!DEPTHS[colorType]?.includes(depth) || data[10] !== 0 || data[11] !== 0 || header.interlace > 1) throw new PngError('unsupported IHDR');
    } else if (type === 'PLTE') {
      if (length % 3 !== 0 || length === 0 || length > 768) throw new PngError('bad PLTE');
      palette = data;
    } else if (type === 'tRNS') {
      transparency = data;
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    }
  }
  if (!header) throw new PngError('no IHDR');
  if (idat.length === 0) throw new PngError('no IDAT');
  const { width, height, depth, colorType } = header;
  if (colorType === 3 && !palette) throw new PngError('indexed image without PLTE');
  const channels = CHANNELS[colorType] as number;
  const bitsPerPixel = channels * depth;
  const passes = header.interlace ? ADAM7 : ([[0, 0, 1, 1]] as const);
  const sizes = passes.map(([x0, y0, dx, dy]) => ({ w: Math.ceil((width - x0) / dx), h: Math.ceil((height - y0) / dy) }));
  const rowBytes = (w: number) => Math.ceil((w * bitsPerPixel) / 8);
  const expected = sizes.reduce((n, s) => n + (s.w > 0 ? s.h * (1 + rowBytes(s.w)) : 0), 0);
  const raw = await inflate(idat, expected);

  const out = new Uint8Array(width * height * 4);
  const bpp = Math.max(1, bitsPerPixel >> 3);
  const expand = rowExpander(colorType, depth, channels, palette, transparency);
  const line = new Uint8Array(width * 4);
  let at = 0;
  for (const [p, [x0, y0, dx, dy]] of passes.entries()) {
    const { w, h } = sizes[p] as { w: number; h: number };
    if (w <= 0 || h <= 0) continue;
    const stride = rowBytes(w);
    let previous: Uint8Array = new Uint8Array(stride);
    for (let y = 0; y < h; y++) {
      const filter = raw[at] as number;
      const row = raw.subarray(at + 1, at + 1 + stride);
      at += 1 + stride;
      unfilter(filter, row, previous, bpp);
      previous = row;
      expand(row, w, line);
      const o = (y0 + y * dy) * width;
      if (dx === 1) {
        out.set(line.subarray(0, w * 4), o * 4);
      } else {
        for (let x = 0; x < w; x++) out.set(line.subarray(x * 4, x * 4 + 4), (o + x0 + x * dx) * 4);
      }
    }
  }
  return { width, height, data: out };
}

/**
 * A function that turns one unfiltered row of `w` pixels into 8-bit RGBA in `line`. The common
 * layouts (8-bit RGBA, RGB, grey, palette) get their own loop: a generic per-sample path is tens of
 * times slower on a 4 MP image.
 */
function rowExpander(colorType: number, depth: number, channels: number, palette: Uint8Array | undefined, transparency: Uint8Array | undefined) {
  const max = 2 ** depth - 1;
  /** Sample `i` of a row (packed for depths below 8, big-endian pairs for 16). */
  const sample = (row: Uint8Array, i: number): number => {
    if (depth === 8) return row[i] as number;
    if (depth === 16) return ((row[2 * i] as number) << 8) | (row[2 * i + 1] as number);
    const bit = i * depth;
    return ((row[bit >> 3] as number) >> (8 - depth - (bit & 7))) & max;
  };
  const to8 = depth === 16 ? (v: number) => v >> 8 : depth === 8 ? (v: number) => v : (v: number) => Math.round((v * 255) / max);
  if (colorType === 3) {
    // Palette entries as RGBA (tRNS gives their alpha); an index past the palette is opaque black.
    const table = new Uint8Array(256 * 4);
    for (let i = 0; i < 256; i++) {
      table[i * 4] = palette?.[i * 3] ?? 0;
      table[i * 4 + 1] = palette?.[i * 3 + 1] ?? 0;
      table[i * 4 + 2] = palette?.[i * 3 + 2] ?? 0;
      table[i * 4 + 3] = transparency?.[i] ?? 255;
    }
    return (row: Uint8Array, w: number, line: Uint8Array) => {
      for (let x = 0; x < w; x++) {
        const k = (depth === 8 ? (row[x] as number) : sample(row, x)) * 4;
        line[x * 4] = table[k] as number;
        line[x * 4 + 1] = table[k + 1] as number;
        line[x * 4 + 2] = table[k + 2] as number;
        line[x * 4 + 3] = table[k + 3] as number;
      }
    };
  }
  // tRNS for grey and truecolour: one sample value (16 bits each) that is transparent.
  const colour = channels >= 3 ? 3 : 1;
  const key = transparency && transparency.length >= 2 * colour ? Array.from({ length: colour }, (_, c) => ((transparency[2 * c] as number) << 8) | (transparency[2 * c + 1] as number)) : undefined;
  const hasAlpha = channels === 2 || channels === 4;
  return (row: Uint8Array, w: number, line: Uint8Array) => {
    if (depth === 8 && channels === 4) {
      line.set(row.subarray(0, w * 4));
    } else if (depth === 8 && channels === 3) {
      for (let x = 0; x < w; x++) {
        line[x * 4] = row[x * 3] as number;
        line[x * 4 + 1] = row[x * 3 + 1] as number;
        line[x * 4 + 2] = row[x * 3 + 2] as number;
        line[x * 4 + 3] = 255;
      }
    } else {
      for (let x = 0; x < w; x++) {
        const i = x * channels;
        for (let c = 0; c < 3; c++) line[x * 4 + c] = to8(sample(row, colour === 3 ? i + c : i));
        line[x * 4 + 3] = hasAlpha ? to8(sample(row, i + channels - 1)) : 255;
      }
    }
    if (key) {
      for (let x = 0; x < w; x++) {
        let same = true;
        for (let c = 0; c < colour && same; c++) same = sample(row, x * channels + c) === key[c];
        if (same) line[x * 4 + 3] = 0;
      }
    }
  };
}

/** Reverses one row's filter in place (RFC 2083 §6), against the previous row of the same pass. */
function unfilter(filter: number, row: Uint8Array, up: Uint8Array, bpp: number): void {
  const n = row.length;
  switch (filter) {
    case 0:
      return;
    case 1:
      for (let i = bpp; i < n; i++) row[i] = ((row[i] as number) + (row[i - bpp] as number)) & 255;
      return;
    case 2:
      for (let i = 0; i < n; i++) row[i] = ((row[i] as number) + (up[i] as number)) & 255;
      return;
    case 3:
      for (let i = 0; i < n; i++) row[i] = ((row[i] as number) + (((i >= bpp ? (row[i - bpp] as number) : 0) + (up[i] as number)) >> 1)) & 255;
      return;
    case 4:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? (row[i - bpp] as number) : 0;
        const b = up[i] as number;
        const c = i >= bpp ? (up[i - bpp] as number) : 0;
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        row[i] = ((row[i] as number) + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 255;
      }
      return;
    default:
      throw new PngError(`row filter ${filter}`);
  }
}

/**
 * The zlib stream of the IDAT chunks, inflated natively into exactly `expected` bytes: a stream
 * that ends short is an error; one that runs long is cut (as libpng does) without being held.
 */
async function inflate(chunks: Uint8Array[], expected: number): Promise<Uint8Array> {
  const out = new Uint8Array(expected);
  const stream = new Blob(chunks as Uint8Array<ArrayBuffer>[]).stream().pipeThrough(new DecompressionStream('deflate'));
  const reader = stream.getReader();
  let at = 0;
  try {
    while (at < expected) {
      const { done, value } = await reader.read();
      if (done) break;
      out.set(value.subarray(0, expected - at), at);
      at += Math.min(value.byteLength, expected - at);
    }
  } catch {
    throw new PngError('damaged zlib data');
  } finally {
    await reader.cancel().catch(() => {});
  }
  if (at < expected) throw new PngError('image data ends early');
  return out;
}
