/**
 * Image dimensions read from the container header, without decoding a pixel: the first thing to
 * know about an image (for the record, and to refuse what cannot be decoded in 128 MB).
 */
import { svgDimensions } from './svg-size';
import { isTiff, tiffDimensions } from './tiff-ifd';

/** `svg` is vector: its size is the one it declares (./svg-size.ts), rendered by ./svg.ts. */
export type RasterFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'avif' | 'bmp' | 'tiff' | 'svg';

export interface Dimensions {
  format: RasterFormat;
  width: number;
  height: number;
}

/** Result of reading a header from a prefix of the file. */
export type HeaderRead = Dimensions | { needBytes: number } | undefined;

const u16be = (b: Uint8Array, i: number) => ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0);
const u16le = (b: Uint8Array, i: number) => (b[i] ?? 0) | ((b[i + 1] ?? 0) << 8);
const u24le = (b: Uint8Array, i: number) => u16le(b, i) | ((b[i + 2] ?? 0) << 16);
const u32be = (b: Uint8Array, i: number) => ((b[i] ?? 0) * 2 ** 24) + (((b[i + 1] ?? 0) << 16) | ((b[i + 2] ?? 0) << 8) | (b[i + 3] ?? 0));
const i32le = (b: Uint8Array, i: number) => (b[i] ?? 0) | ((b[i + 1] ?? 0) << 8) | ((b[i + 2] ?? 0) << 16) | ((b[i + 3] ?? 0) << 24);
const ascii = (b: Uint8Array, i: number, n: number) => String.fromCharCode(...b.subarray(i, i + n));

/**
 * Reads width and height from `head` (the first bytes of a file). Returns `{ needBytes }` when the
 * header continues past `head` (a JPEG whose frame header follows large metadata segments), and
 * undefined when the bytes are not a raster format we know.
 */
export function readDimensions(head: Uint8Array): HeaderRead {
  if (head[0] === 0xff && head[1] === 0xd8) return jpeg(head);
  if (ascii(head, 0, 8) === '\x89PNG\r\n\x1a\n' && ascii(head, 12, 4) === 'IHDR') {
    return { format: 'png', width: u32be(head, 16), height: u32be(head, 20) };
  }
  if (ascii(head, 0, 6) === 'GIF87a' || ascii(head, 0, 6) === 'GIF89a') {
    return { format: 'gif', width: u16le(head, 6), height: u16le(head, 8) };
  }
  if (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 4) === 'WEBP') return webp(head);
  if (ascii(head, 4, 4) === 'ftyp' && isAvif(head)) return avif(head);
  if (ascii(head, 0, 2) === 'BM' && head.length >= 26) {
    return { format: 'bmp', width: Math.abs(i32le(head, 18)), height: Math.abs(i32le(head, 22)) };
  }
  if (isTiff(head)) {
    const size = tiffDimensions(head);
    return size && 'width' in size ? { format: 'tiff', ...size } : size;
  }
  return svgDimensions(head);
}

/** Walks the JPEG segments to the frame header (SOFn), which carries the dimensions. */
function jpeg(b: Uint8Array): HeaderRead {
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1] ?? 0;
    if (marker === 0xff) {
      i++;
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      i += 2;
      continue;
    }
    const length = u16be(b, i + 2);
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) {
      if (i + 9 > b.length) return { needBytes: i + 9 };
      return { format: 'jpeg', height: u16be(b, i + 5), width: u16be(b, i + 7) };
    }
    if (marker === 0xda || marker === 0xd9) return undefined;
    i += 2 + length;
  }
  return { needBytes: i + 10 };
}

/** An ISOBMFF file whose `ftyp` names the AVIF brand (major or compatible). */
function isAvif(b: Uint8Array): boolean {
  const size = u32be(b, 0);
  for (let i = 8; i + 4 <= Math.min(size, b.length, 256); i += 4) {
    if (i === 12) continue; // minor version
    if (ascii(b, i, 4) === 'avif') return true;
  }
  return false;
}

/**
 * An AVIF's size: the largest image spatial extent (`ispe`) in its item properties (meta → iprp →
 * ipco), which is the primary image's (a grid's tiles and an alpha plane are not larger). Every box
 * walk advances by the box's size, so it is bounded by the bytes read.
 */
function avif(b: Uint8Array): HeaderRead {
  let widest: { width: number; height: number } | undefined;
  const walk = (start: number, end: number, depth: number): number | undefined => {
    for (let i = start; i + 8 <= end; ) {
      let size = u32be(b, i);
      const type = ascii(b, i + 4, 4);
      let header = 8;
      if (size === 1) {
        size = u32be(b, i + 8) * 2 ** 32 + u32be(b, i + 12);
        header = 16;
      } else if (size === 0) {
        size = end - i;
      }
      if (size < header) return undefined;
      if (i + size > b.length && (type === 'meta' || type === 'iprp' || type === 'ipco' || type === 'ispe')) return i + size;
      // A top-level box before `meta` (rare: `mdat` first) is stepped over; the next box's head is needed.
      if (depth === 0 && i + size + 8 > b.length) return i + size + 64;
      if (type === 'ispe' && size >= header + 12) {
        const width = u32be(b, i + header + 4);
        const height = u32be(b, i + header + 8);
        if (!widest || width * height > widest.width * widest.height) widest = { width, height };
      }
      // `meta` is a full box: its children start after a version and flags.
      if (depth < 3 && (type === 'meta' || type === 'iprp' || type === 'ipco')) {
        const need = walk(i + header + (type === 'meta' ? 4 : 0), Math.min(end, i + size), depth + 1);
        if (need !== undefined) return need;
        if (type === 'meta') return 0;
      }
      i += size;
    }
    return undefined;
  };
  const need = walk(0, b.length, 0);
  if (need) return { needBytes: need };
  return widest && widest.width > 0 && widest.height > 0 ? { format: 'avif', ...widest } : undefined;
}

function webp(b: Uint8Array): HeaderRead {
  const chunk = ascii(b, 12, 4);
  if (chunk === 'VP8X') return { format: 'webp', width: u24le(b, 24) + 1, height: u24le(b, 27) + 1 };
  if (chunk === 'VP8L' && b[20] === 0x2f) {
    const bits = ((b[21] ?? 0) | ((b[22] ?? 0) << 8) | ((b[23] ?? 0) << 16) | ((b[24] ?? 0) << 24)) >>> 0;
    return { format: 'webp', width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8 ' && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a) {
    return { format: 'webp', width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff };
  }
  return undefined;
}
