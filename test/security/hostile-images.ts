/**
 * Hostile images made from valid ones, as an attacker would shape them: header fields a decoder
 * trusts, frame headers that disagree, sizes that differ between what is checked and what is decoded.
 * Plain functions over bytes, shared by the workerd tests and the Node fuzz harness.
 */

import { concat } from '../../src/lib/bytes.ts';

const u16be = (b: Uint8Array, i: number) => ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0);

/** The parts joined: byte arrays, or lists of byte values. */
const join = (...parts: (Uint8Array | number[])[]) => concat(parts.map((p) => Uint8Array.from(p)));

/** The offset of the first segment with `marker` (before the scan data), or -1. */
export function segmentAt(jpeg: Uint8Array, marker: number): number {
  let i = 2;
  while (i + 4 <= jpeg.length && jpeg[i] === 0xff) {
    const m = jpeg[i + 1] as number;
    if (m === marker) return i;
    if (m === 0xda) return -1;
    i += 2 + u16be(jpeg, i + 2);
  }
  return -1;
}

const SOF0 = 0xc0;

/** A copy with `edit` applied to the bytes of the first segment with `marker` (offset of FF). */
export function editSegment(jpeg: Uint8Array, marker: number, edit: (b: Uint8Array, at: number) => void): Uint8Array {
  const out = jpeg.slice();
  const at = segmentAt(out, marker);
  if (at < 0) throw new Error(`no segment ${marker.toString(16)}`);
  edit(out, at);
  return out;
}

/** Sets component `i`'s sampling byte (h << 4 | v) in the frame header. */
export const withSampling = (jpeg: Uint8Array, i: number, hv: number) => editSegment(jpeg, SOF0, (b, at) => void (b[at + 11 + 3 * i] = hv));

/** Sets the frame's dimensions, leaving the entropy-coded data as it was (far too short for them). `marker`: SOF2 for a progressive file. */
export const withFrameSize = (jpeg: Uint8Array, width: number, height: number, marker = SOF0) =>
  editSegment(jpeg, marker, (b, at) => {
    b[at + 5] = height >> 8;
    b[at + 6] = height & 255;
    b[at + 7] = width >> 8;
    b[at + 8] = width & 255;
  });

/** Sets the frame's sample precision (8 is baseline; 12 is what an 8-bit libjpeg refuses). */
export const withPrecision = (jpeg: Uint8Array, bits: number) => editSegment(jpeg, SOF0, (b, at) => void (b[at + 4] = bits));

/** Sets component `i`'s quantization table id in the frame header. */
export const withQuantTable = (jpeg: Uint8Array, i: number, id: number) => editSegment(jpeg, SOF0, (b, at) => void (b[at + 12 + 3 * i] = id));

/** Sets component `i`'s Huffman table selectors (td << 4 | ta) in the scan header. */
export const withScanTables = (jpeg: Uint8Array, i: number, tables: number) => editSegment(jpeg, 0xda, (b, at) => void (b[at + 6 + 2 * i] = tables));

/** Sets the first Huffman table's class and id byte. */
export const withHuffmanId = (jpeg: Uint8Array, tcth: number) => editSegment(jpeg, 0xc4, (b, at) => void (b[at + 4] = tcth));

/** Sets the length field of the first segment with `marker`. */
export const withSegmentLength = (jpeg: Uint8Array, marker: number, length: number) =>
  editSegment(jpeg, marker, (b, at) => {
    b[at + 2] = length >> 8;
    b[at + 3] = length & 255;
  });

/** A second frame header right after the first: `marker` SOF0 (baseline) or SOF2 (progressive). */
export function withSecondFrame(jpeg: Uint8Array, width: number, height: number, marker = SOF0): Uint8Array {
  const at = segmentAt(jpeg, SOF0);
  const end = at + 2 + u16be(jpeg, at + 2);
  const copy = jpeg.slice(at, end);
  copy[1] = marker;
  copy[5] = height >> 8;
  copy[6] = height & 255;
  copy[7] = width >> 8;
  copy[8] = width & 255;
  return join(jpeg.subarray(0, end), copy, jpeg.subarray(end));
}

/** Every restart marker of the scan turned into data bytes, so the intervals are never found. */
export function withoutRestartMarkers(jpeg: Uint8Array): Uint8Array {
  const out = jpeg.slice();
  for (let i = segmentAt(out, 0xda); i + 1 < out.length - 2; i++) {
    if (out[i] === 0xff && (out[i + 1] as number) >= 0xd0 && (out[i + 1] as number) <= 0xd7) out[i + 1] = 0x00;
  }
  return out;
}

/** A GIF whose logical screen is `screen` but whose one frame is `frame` (minimal LZW data). */
export function gifWithFrame(screen: [number, number], frame: [number, number]): Uint8Array {
  const le = (n: number) => [n & 255, n >> 8];
  return join(
    new TextEncoder().encode('GIF89a'),
    [...le(screen[0]), ...le(screen[1]), 0x80, 0, 0], // global colour table of 2 entries
    [0, 0, 0, 255, 255, 255],
    [0x2c, ...le(0), ...le(0), ...le(frame[0]), ...le(frame[1]), 0],
    [2, 2, 0x4c, 0x01, 0], // LZW minimum code size 2: clear, one index, end
    [0x3b],
  );
}

/** A WebP whose VP8X canvas is `canvas` and whose lossless bitstream header claims `bitstream`. */
export function webpWithBitstream(canvas: [number, number], bitstream: [number, number]): Uint8Array {
  const le24 = (n: number) => [n & 255, (n >> 8) & 255, (n >> 16) & 255];
  const le32 = (n: number) => [n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255];
  const bits = (bitstream[0] - 1) | ((bitstream[1] - 1) << 14);
  const vp8l = [0x2f, ...le32(bits >>> 0), 0, 0, 0];
  const chunks = join(
    new TextEncoder().encode('VP8X'),
    le32(10),
    [0, 0, 0, 0, ...le24(canvas[0] - 1), ...le24(canvas[1] - 1)],
    new TextEncoder().encode('VP8L'),
    le32(vp8l.length),
    vp8l,
  );
  return join(new TextEncoder().encode('RIFF'), le32(chunks.length + 4), new TextEncoder().encode('WEBP'), chunks);
}

/**
 * `jpeg` (whose frame header is `marker`) with `count` empty scans before its EOI: DC scans over
 * every component carrying no data. libjpeg runs each one over every block of the image.
 */
export function withEmptyScans(jpeg: Uint8Array, count: number, marker = 0xc2): Uint8Array {
  const at = segmentAt(jpeg, marker);
  if (at < 0) throw new Error(`no segment ${marker.toString(16)}`);
  const n = jpeg[at + 9] as number;
  const ids = Array.from({ length: n }, (_, k) => jpeg[at + 10 + 3 * k] as number);
  const scan = [0xff, 0xda, 0, 6 + 2 * n, n, ...ids.flatMap((id) => [id, 0]), 0, 0, 0];
  const end = jpeg.length - 2; // the EOI
  return join(jpeg.subarray(0, end), ...Array.from({ length: count }, () => scan), [0xff, 0xd9]);
}

export interface PngShape {
  width: number;
  height: number;
  depth?: number;
  /** 0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA. */
  colorType?: number;
  interlace?: 0 | 1;
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (bytes: Uint8Array) => (bytes.reduce((c, b) => (crcTable[(c ^ b) & 255] as number) ^ (c >>> 8), 0xffffffff) ^ 0xffffffff) >>> 0;
const be32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];

/** A PNG chunk: length, type, data, CRC. */
export function pngChunk(type: string, data: Uint8Array | number[]): Uint8Array {
  const body = join(new TextEncoder().encode(type), data);
  return join(be32(body.length - 4), body, be32(crc32(body)));
}

/**
 * A PNG whose IHDR declares `shape` over `idat` (zlib data; by default one inflated zero byte), with
 * a two-entry palette for colour type 3: the 74-byte "100,000,000×1" of the report, in every layout.
 */
export function pngWithHeader(shape: PngShape, idat: Uint8Array | number[] = [0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01]): Uint8Array {
  const { width, height, depth = 8, colorType = 6, interlace = 0 } = shape;
  return join(
    [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
    pngChunk('IHDR', [...be32(width), ...be32(height), depth, colorType, 0, 0, interlace]),
    colorType === 3 ? pngChunk('PLTE', [0, 0, 0, 255, 255, 255]) : [],
    pngChunk('IDAT', idat),
    pngChunk('IEND', []),
  );
}

/** A GIF89a of `count` 1×1 frames on a `screen`: a frame flood, each frame a few bytes. */
export function gifWithFrames(screen: [number, number], count: number): Uint8Array {
  const le = (n: number) => [n & 255, n >> 8];
  const frame = [0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x4c, 0x01, 0];
  return join(
    new TextEncoder().encode('GIF89a'),
    [...le(screen[0]), ...le(screen[1]), 0x80, 0, 0],
    [0, 0, 0, 255, 255, 255],
    ...Array.from({ length: count }, () => frame),
    [0x3b],
  );
}

/** A TIFF tag: its number, type (3 SHORT, 4 LONG) and values. */
export type TiffTag = [tag: number, type: 3 | 4, values: number[]];

/**
 * A little-endian TIFF of `data` (at offset 8) and one directory of `tags` after it, as they are
 * given: nothing is checked, so the directory may claim any size, layout or offsets.
 */
export function tiffWith(tags: TiffTag[], data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const ifd = 8 + data.length + (data.length & 1);
  const extra = tags.reduce((n, [, type, v]) => (v.length * (type === 3 ? 2 : 4) > 4 ? n + v.length * (type === 3 ? 2 : 4) : n), 0);
  const out = new Uint8Array(ifd + 2 + 12 * tags.length + 4 + extra);
  const view = new DataView(out.buffer);
  out.set([0x49, 0x49, 42, 0]);
  view.setUint32(4, ifd, true);
  out.set(data, 8);
  view.setUint16(ifd, tags.length, true);
  let at = ifd + 2 + 12 * tags.length + 4;
  [...tags].sort((a, b) => a[0] - b[0]).forEach(([tag, type, values], k) => {
    const e = ifd + 2 + 12 * k;
    const size = type === 3 ? 2 : 4;
    view.setUint16(e, tag, true);
    view.setUint16(e + 2, type, true);
    view.setUint32(e + 4, values.length, true);
    let p = e + 8;
    if (values.length * size > 4) {
      view.setUint32(e + 8, at, true);
      p = at;
      at += values.length * size;
    }
    for (const v of values) {
      if (size === 2) view.setUint16(p, v, true);
      else view.setUint32(p, v, true);
      p += size;
    }
  });
  return out;
}

/** An 8-bit RGB TIFF's tags for `width`×`height` in segments at `offsets` of `counts` bytes (tiles when `tile` is given). */
export function tiffTags(width: number, height: number, compression: number, offsets: number[], counts: number[], layout: { rowsPerStrip?: number; tile?: [number, number] } = {}): TiffTag[] {
  const tags: TiffTag[] = [
    [256, 4, [width]],
    [257, 4, [height]],
    [258, 3, [8, 8, 8]],
    [259, 3, [compression]],
    [262, 3, [2]],
    [277, 3, [3]],
  ];
  if (layout.tile) tags.push([322, 4, [layout.tile[0]]], [323, 4, [layout.tile[1]]], [324, 4, offsets], [325, 4, counts]);
  else tags.push([273, 4, offsets], [278, 4, [layout.rowsPerStrip ?? height]], [279, 4, counts]);
  return tags;
}

/** PackBits runs of zeros: 128 bytes for every 2. */
export const packBitsZeros = (bytes: number) => Uint8Array.from({ length: 2 * Math.ceil(bytes / 128) }, (_, i) => (i % 2 === 0 ? 0x81 : 0));
