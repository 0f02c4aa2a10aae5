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

/** libjpeg-turbo's own bound on a progressive file's scans (its TJFLAG_LIMITSCANS). */
export const JPEG_MAX_SCANS = 500;
/**
 * The blocks all scans visit together: libjpeg runs every scan over every block of the components
 * it names, even a scan with no data, so a file of 10,000 empty scans is 10,000 passes over the
 * image. ~10–15 ns a block visit (measured); libjpeg's usual 10-scan progression of the largest
 * progressive image the memory budget admits visits ~4 M.
 */
export const JPEG_MAX_BLOCK_VISITS = 32 * 2 ** 20;

/**
 * Walks every marker segment, stepping over entropy-coded data, and requires exactly one frame
 * header. Counts the scans and the blocks they visit, and refuses past JPEG_MAX_SCANS or
 * JPEG_MAX_BLOCK_VISITS before libjpeg runs any.
 */
function jpegExtent(b: Uint8Array): Extent {
  let frame: Extent | undefined;
  let blocks: { id: number; blocks: number }[] = [];
  let coefficients = 0;
  let scans = 0;
  let visits = 0;
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
      blocks = componentBlocks(b, i, frame);
      coefficients = blocks.reduce((sum, c) => sum + c.blocks * 128, 0);
    }
    if (marker === 0xda) {
      scans++;
      // A scan names its components (1–4) by id; one the frame lacks is libjpeg's error, not work.
      for (let k = 0; k < Math.min(4, b[i + 4] ?? 0); k++) visits += blocks.find((c) => c.id === b[i + 5 + 2 * k])?.blocks ?? 0;
      if (scans > JPEG_MAX_SCANS || visits > JPEG_MAX_BLOCK_VISITS) {
        throw unprocessable(
          `The JPEG file has more scans than can be decoded: ${scans} so far, visiting ${visits} blocks; JPEG decoding is limited to ${JPEG_MAX_SCANS} scans and ${JPEG_MAX_BLOCK_VISITS} block visits (every scan runs over every block of its components).`,
        );
      }
    }
    i += 2 + length;
    if (marker === 0xda) {
      // Entropy-coded data runs to the next marker that is not a stuffed 0xFF00 or a restart marker.
      while (i + 1 < b.length && !(b[i] === 0xff && b[i + 1] !== 0 && !((b[i + 1] as number) >= 0xd0 && (b[i + 1] as number) <= 0xd7))) i++;
    }
  }
  if (!frame || frame.width === 0 || frame.height === 0) throw unprocessable('The JPEG file has no usable frame header.');
  return scans > 1 ? { ...frame, coefficientBytes: coefficients } : frame;
}

/**
 * Each component's blocks (by component id) for the frame header at `at`, padded to whole MCUs as
 * libjpeg's whole-image coefficient buffer holds them: 128 bytes a block.
 */
function componentBlocks(b: Uint8Array, at: number, frame: Extent): { id: number; blocks: number }[] {
  const count = b[at + 9] ?? 0;
  const components = Array.from({ length: count }, (_, k) => ({ id: b[at + 10 + 3 * k] ?? 0, h: (b[at + 11 + 3 * k] ?? 0) >> 4 || 1, v: (b[at + 11 + 3 * k] ?? 0) & 15 || 1 }));
  const hmax = Math.max(1, ...components.map((f) => f.h));
  const vmax = Math.max(1, ...components.map((f) => f.v));
  const mcusWide = Math.ceil(frame.width / (8 * hmax));
  const mcusHigh = Math.ceil(frame.height / (8 * vmax));
  return components.map((c) => ({ id: c.id, blocks: mcusWide * c.h * mcusHigh * c.v }));
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
