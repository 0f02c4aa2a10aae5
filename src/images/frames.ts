import { AppError } from '../errors/app-error';
import type { Dimensions } from './dimensions';

/**
 * The size a decoder will really allocate for an image, from every frame header in the whole file
 * rather than the first one: the size that is checked must be the size that is decoded. A JPEG may
 * carry a second frame header, a GIF's frames may be larger than its logical screen, a WebP's
 * bitstream or animation frames larger than its canvas. Each walk advances through the bytes at
 * every step, so its work is bounded by the file's length.
 */
export interface Extent {
  width: number;
  height: number;
  /**
   * JPEG with more than one scan (progressive, or sequential non-interleaved): libjpeg keeps every
   * DCT coefficient of the image until the last scan, whatever the output scale. Its bytes.
   */
  coefficientBytes?: number;
}

const unprocessable = (message: string) => new AppError('UNPROCESSABLE_IMAGE', message);

const u16be = (b: Uint8Array, i: number) => ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0);
const u16le = (b: Uint8Array, i: number) => (b[i] ?? 0) | ((b[i + 1] ?? 0) << 8);
const u24le = (b: Uint8Array, i: number) => u16le(b, i) + (b[i + 2] ?? 0) * 65536;
const u32le = (b: Uint8Array, i: number) => u16le(b, i) + u16le(b, i + 2) * 65536;
const ascii = (b: Uint8Array, i: number, n: number) => String.fromCharCode(...b.subarray(i, i + n));

/** Throws 422 UNPROCESSABLE_IMAGE when the file's structure is broken or it has two JPEG frames. */
export function decodedExtent(bytes: Uint8Array, header: Dimensions): Extent {
  switch (header.format) {
    case 'jpeg':
      return jpegExtent(bytes);
    case 'gif':
      return gifExtent(bytes, header);
    case 'webp':
      return webpExtent(bytes, header);
    default:
      // PNG: IHDR is the first chunk and the decoder refuses a second one and frames beyond it.
      return { width: header.width, height: header.height };
  }
}

const isFrameMarker = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

/** Walks every marker segment, stepping over entropy-coded data, and requires exactly one frame header. */
function jpegExtent(b: Uint8Array): Extent {
  let frame: Extent | undefined;
  let coefficients = 0;
  let scans = 0;
  let i = 2;
  while (i + 1 < b.length) {
    if (b[i] !== 0xff) throw unprocessable('The JPEG file is damaged (a marker was expected).');
    const marker = b[i + 1] as number;
    if (marker === 0xff) {
      i++;
      continue;
    }
    if (marker === 0xd9) break;
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      i += 2;
      continue;
    }
    const length = u16be(b, i + 2);
    if (length < 2 || i + 2 + length > b.length) throw unprocessable('The JPEG file is damaged (a segment runs past the end).');
    if (isFrameMarker(marker)) {
      if (frame) throw unprocessable('The JPEG file has more than one frame header; it cannot be transformed.');
      frame = { height: u16be(b, i + 5), width: u16be(b, i + 7) };
      coefficients = coefficientBytes(b, i, frame);
    }
    if (marker === 0xda) scans++;
    i += 2 + length;
    if (marker === 0xda) {
      // Entropy-coded data runs to the next marker that is not a stuffed 0xFF00 or a restart marker.
      while (i + 1 < b.length && !(b[i] === 0xff && b[i + 1] !== 0 && !((b[i + 1] as number) >= 0xd0 && (b[i + 1] as number) <= 0xd7))) i++;
    }
  }
  if (!frame || frame.width === 0 || frame.height === 0) throw unprocessable('The JPEG file has no usable frame header.');
  return scans > 1 ? { ...frame, coefficientBytes: coefficients } : frame;
}

/** What libjpeg's whole-image coefficient buffer takes for the frame header at `at`: 128 bytes a block, blocks padded to whole MCUs. */
function coefficientBytes(b: Uint8Array, at: number, frame: Extent): number {
  const count = b[at + 9] ?? 0;
  const factors = Array.from({ length: count }, (_, k) => ({ h: (b[at + 11 + 3 * k] ?? 0) >> 4 || 1, v: (b[at + 11 + 3 * k] ?? 0) & 15 || 1 }));
  const hmax = Math.max(1, ...factors.map((f) => f.h));
  const vmax = Math.max(1, ...factors.map((f) => f.v));
  const mcusWide = Math.ceil(frame.width / (8 * hmax));
  const mcusHigh = Math.ceil(frame.height / (8 * vmax));
  return factors.reduce((sum, f) => sum + mcusWide * f.h * mcusHigh * f.v * 128, 0);
}

/** Every image descriptor's extent, with the logical screen: the larger of them is what gets decoded. */
function gifExtent(b: Uint8Array, header: Dimensions): Extent {
  const extent = { width: header.width, height: header.height };
  const colorTable = (flags: number) => (flags & 0x80 ? 3 * 2 ** ((flags & 7) + 1) : 0);
  const subBlocks = (at: number) => {
    let i = at;
    for (;;) {
      if (i >= b.length) throw unprocessable('The GIF file is truncated.');
      const size = b[i] as number;
      i += 1 + size;
      if (size === 0) return i;
    }
  };
  let i = 13 + colorTable(b[10] ?? 0);
  let frames = 0;
  for (;;) {
    if (i >= b.length) throw unprocessable('The GIF file is truncated.');
    const block = b[i] as number;
    if (block === 0x3b) break;
    if (block === 0x21) {
      i = subBlocks(i + 2);
    } else if (block === 0x2c) {
      if (i + 10 > b.length) throw unprocessable('The GIF file is truncated.');
      extent.width = Math.max(extent.width, u16le(b, i + 1) + u16le(b, i + 5));
      extent.height = Math.max(extent.height, u16le(b, i + 3) + u16le(b, i + 7));
      i = subBlocks(i + 10 + colorTable(b[i + 9] as number) + 1);
      frames++;
    } else {
      throw unprocessable('The GIF file is damaged (an unknown block).');
    }
  }
  if (frames === 0) throw unprocessable('The GIF file has no image.');
  return extent;
}

/** The canvas, every VP8/VP8L bitstream and every animation frame (ANMF holds chunks of its own). */
function webpExtent(b: Uint8Array, header: Dimensions): Extent {
  const extent = { width: header.width, height: header.height };
  const grow = (w: number, h: number) => {
    extent.width = Math.max(extent.width, w);
    extent.height = Math.max(extent.height, h);
  };
  const walk = (start: number, end: number, inFrame: boolean) => {
    let i = start;
    while (i + 8 <= end) {
      const fourcc = ascii(b, i, 4);
      const size = u32le(b, i + 4);
      const p = i + 8;
      if (p + size > end) throw unprocessable('The WebP file is damaged (a chunk runs past its container).');
      if (fourcc === 'VP8X' && size >= 10) grow(u24le(b, p + 4) + 1, u24le(b, p + 7) + 1);
      else if (fourcc === 'VP8 ' && size >= 10) grow(u16le(b, p + 6) & 0x3fff, u16le(b, p + 8) & 0x3fff);
      else if (fourcc === 'VP8L' && size >= 5) {
        const bits = u32le(b, p + 1);
        grow((bits & 0x3fff) + 1, (Math.floor(bits / 16384) & 0x3fff) + 1);
      } else if (fourcc === 'ANMF' && size >= 16) {
        // A frame holds image chunks, never another frame: one level, so no input can nest deeper.
        if (inFrame) throw unprocessable('The WebP file is damaged (an animation frame inside a frame).');
        grow(u24le(b, p) * 2 + u24le(b, p + 6) + 1, u24le(b, p + 3) * 2 + u24le(b, p + 9) + 1);
        walk(p + 16, p + size, true);
      }
      i = p + size + (size & 1);
    }
  };
  walk(12, Math.min(b.length, u32le(b, 4) + 8), false);
  return extent;
}
