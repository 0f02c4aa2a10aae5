/**
 * A TIFF strip's or tile's bytes, decompressed into exactly the size its layout implies (TIFF 6.0
 * §9 PackBits, §13 LZW; Adobe's deflate is zlib). Every loop is bounded by its input and its output:
 * data past the expected size is cut, as libtiff does; data that ends short is an error.
 */

import { TiffError } from './tiff-ifd.ts';

/** PackBits: a count byte n, then n+1 literal bytes (n ≥ 0) or one byte repeated 1−n times (n < 0; −128 is nothing). */
export function unpackBits(src: Uint8Array, expected: number): Uint8Array {
  const out = new Uint8Array(expected);
  let o = 0;
  let i = 0;
  while (o < expected && i < src.length) {
    const n = (src[i++] as number) << 24 >> 24;
    if (n >= 0) {
      const end = Math.min(i + n + 1, src.length);
      const take = Math.min(end - i, expected - o);
      out.set(src.subarray(i, i + take), o);
      o += take;
      i = end;
    } else if (n !== -128) {
      const take = Math.min(1 - n, expected - o);
      out.fill(src[i++] ?? 0, o, o + take);
      o += take;
    }
  }
  if (o < expected) throw new TiffError('PackBits data ends early');
  return out;
}

const CLEAR = 256;
const END = 257;

/**
 * TIFF's LZW: codes MSB first, 9 to 12 bits, the width growing one code early (at 511, 1023, 2047).
 * The table is a prefix chain, so a string is written back to front in place: no string is copied.
 * Each code read advances the input, so the loop is bounded by the input's bits and the output's size.
 */
export function unLzw(src: Uint8Array, expected: number): Uint8Array {
  if (src[0] === 0 && ((src[1] ?? 0) & 1) === 1) throw new TiffError('old-style (LSB-first) LZW is not supported');
  const out = new Uint8Array(expected);
  const prefix = new Int16Array(4096);
  const suffix = new Uint8Array(4096);
  const first = new Uint8Array(4096);
  const length = new Uint16Array(4096);
  for (let c = 0; c < 256; c++) {
    prefix[c] = -1;
    suffix[c] = c;
    first[c] = c;
    length[c] = 1;
  }
  const bits = src.length * 8;
  let at = 0;
  let width = 9;
  let next = 258;
  let old = -1;
  let o = 0;
  /** Writes code's string at o (what fits of it), back to front along its prefix chain. */
  const write = (code: number) => {
    const n = length[code] as number;
    for (let k = n - 1, c = code; c >= 0; k--, c = prefix[c] as number) if (o + k < expected) out[o + k] = suffix[c] as number;
    o += n;
  };
  while (o < expected && at + width <= bits) {
    // Up to 12 bits from three bytes.
    const byte = at >> 3;
    const word = ((src[byte] as number) << 16) | ((src[byte + 1] ?? 0) << 8) | (src[byte + 2] ?? 0);
    const code = (word >> (24 - (at & 7) - width)) & ((1 << width) - 1);
    at += width;
    if (code === END) break;
    if (code === CLEAR) {
      width = 9;
      next = 258;
      old = -1;
      continue;
    }
    if (old < 0) {
      if (code > 255) throw new TiffError('LZW data starts with an undefined code');
      out[o++] = code;
      old = code;
      continue;
    }
    if (code > next || (code === next && next >= 4096)) throw new TiffError('LZW data uses an undefined code');
    const known = code < next;
    if (next < 4096) {
      prefix[next] = old;
      suffix[next] = known ? (first[code] as number) : (first[old] as number);
      first[next] = first[old] as number;
      length[next] = (length[old] as number) + 1;
      next++;
    }
    write(code);
    old = code;
    if (next + 1 >= 1 << width && width < 12) width++;
  }
  if (o < expected) throw new TiffError('LZW data ends early');
  return out;
}

/** zlib data inflated by the platform's own zlib, read until `expected` bytes and cancelled there. */
export async function inflate(src: Uint8Array, expected: number): Promise<Uint8Array> {
  const out = new Uint8Array(expected);
  let o = 0;
  const input = new Blob([src]).stream();
  const reader = input.pipeThrough(new DecompressionStream('deflate') as unknown as TransformStream<Uint8Array, Uint8Array>).getReader();
  try {
    while (o < expected) {
      const next = await reader.read().catch(() => {
        throw new TiffError('damaged deflate data');
      });
      if (next.done) break;
      const take = Math.min(next.value.byteLength, expected - o);
      out.set(next.value.subarray(0, take), o);
      o += take;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  if (o < expected) throw new TiffError('deflate data ends early');
  return out;
}

/**
 * A JPEG-compressed segment as one whole JPEG stream: the shared tables (tag 347, SOI … EOI) without
 * their EOI, then the segment without its SOI. A segment that carries its own tables stays as it is.
 */
export function withTables(segment: Uint8Array, tables: Uint8Array | undefined): Uint8Array {
  if (!tables || tables.length < 4 || segment.length < 2) return segment;
  const joined = new Uint8Array(tables.length - 2 + segment.length - 2);
  joined.set(tables.subarray(0, tables.length - 2));
  joined.set(segment.subarray(2), tables.length - 2);
  return joined;
}

/** Reverses horizontal differencing (Predictor 2) in place over `rows` rows of `w` pixels. */
export function undoPredictor(data: Uint8Array, rows: number, w: number, spp: number, bits: 8 | 16, le: boolean): void {
  const rowBytes = (w * spp * bits) / 8;
  if (bits === 8) {
    for (let y = 0; y < rows; y++) {
      const row = y * rowBytes;
      for (let i = row + spp; i < row + rowBytes; i++) data[i] = ((data[i] as number) + (data[i - spp] as number)) & 255;
    }
    return;
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const step = 2 * spp;
  for (let y = 0; y < rows; y++) {
    const row = y * rowBytes;
    for (let i = row + step; i < row + rowBytes; i += 2) view.setUint16(i, (view.getUint16(i, le) + view.getUint16(i - step, le)) & 0xffff, le);
  }
}
