/**
 * PNG (RFC 2083 / ISO 15948) decoded row by row into 8-bit RGBA, reduced as the rows come: memory
 * follows the output, not the source, so a 100 MP PNG is thumbnailed in a few MB. Every colour type
 * and bit depth, PLTE, tRNS and Adam7 interlacing. Inflating is the platform's own zlib
 * (DecompressionStream), which is native and checks the stream; the pure-JavaScript PNG decoder
 * tried first (fast-png over fflate 0.8.3) lost most of a valid 400 KB IDAT. Every loop is bounded:
 * the chunk walk by the bytes read, the rows by the size the header implies (inflated data past it
 * is cut, as libpng does; data that ends short is an error).
 */

// With its extension, unlike the rest of src/: the Node tests (test-node/) import this module as it is.
import { ByteReader, imageData, type PngHeader, PngError, readUntilImageData, SIGNATURE, singleChunk } from './png-chunks.ts';
import { Average, Copy, passesOf, type RowSink } from './png-rows.ts';

export type { PngHeader };

export interface PngImage {
  width: number;
  height: number;
  /** RGBA, width × height. */
  data: Uint8Array;
}

/** The part of the image to keep (source pixels) and the size to reduce it to (at most its own). */
export interface PngReduction {
  left: number;
  top: number;
  width: number;
  height: number;
  outWidth: number;
  outHeight: number;
}

/** A PNG refused for the work it would take, before any: its message names the limit. */
export class PngLimitError extends Error {}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/**
 * Decodes a PNG from its bytes or a stream of them. `reduce`, given the header, says which part to
 * keep and at what size; by default the whole image at its own size. A reduction averages each
 * output pixel's source pixels (weighted by alpha, so transparent pixels lend no colour).
 */
export async function decodePng(input: Uint8Array | ReadableStream<Uint8Array>, reduce?: (header: PngHeader) => PngReduction): Promise<PngImage> {
  const bytes = new ByteReader(input instanceof Uint8Array ? singleChunk(input) : input);
  try {
    const signature = await bytes.exactly(8);
    if (!SIGNATURE.every((b, i) => signature[i] === b)) throw new PngError('not a PNG signature');
    const { header, palette, transparency, firstIdat } = await readUntilImageData(bytes);
    assertWithinWork(header);
    const r = reduce ? reduce(header) : { left: 0, top: 0, width: header.width, height: header.height, outWidth: header.width, outHeight: header.height };
    if (r.left < 0 || r.top < 0 || r.width < 1 || r.height < 1 || r.left + r.width > header.width || r.top + r.height > header.height) throw new PngError('reduction outside the image');
    if (r.outWidth < 1 || r.outHeight < 1 || r.outWidth > r.width || r.outHeight > r.height) throw new PngError('reduction larger than its region');
    const sink = r.outWidth === r.width && r.outHeight === r.height ? new Copy(header, r) : new Average(header, r, hasAlpha(header, transparency));
    await inflateRows(imageData(bytes, firstIdat), header, rowExpander(header, palette, transparency), sink);
    return { width: r.outWidth, height: r.outHeight, data: sink.result() };
  } catch (error) {
    // A source that failed to be read (storage) is that failure, not a damaged file.
    throw bytes.failure ?? error;
  } finally {
    await bytes.cancel();
  }
}

/**
 * Decoding work, in bytes of inflated image data, with each row counted at PNG_ROW_COST more: a
 * row's fixed cost (assembly, filter dispatch, the sink) is what makes a 1×100,000,000 image as
 * slow as a wide one of many more bytes. The limit is the work of the largest source a transform
 * reads (100 MP) in 16-bit RGBA, the widest layout, over as many rows as a square one has.
 */
export const PNG_ROW_COST = 256;
export const PNG_MAX_WORK = 100_000_000 * 8 + 65_536 * PNG_ROW_COST;

const rowBytesOf = (header: PngHeader, w: number) => Math.ceil((w * (CHANNELS[header.colorType] as number) * header.depth) / 8);

/** The rows every pass holds and the bytes they inflate to (filter bytes included). */
export function pngWork(header: PngHeader): { rows: number; bytes: number } {
  let rows = 0;
  let bytes = 0;
  for (const pass of passesOf(header)) {
    if (pass.w <= 0 || pass.h <= 0) continue;
    rows += pass.h;
    bytes += pass.h * (rowBytesOf(header, pass.w) + 1);
  }
  return { rows, bytes };
}

/**
 * What a decode holds besides its output, all sized by the width: two rows of filtered bytes, one
 * RGBA line and each pass's column map. A caller counts it in its memory budget before decoding.
 */
export function pngRowStateBytes(header: PngHeader): number {
  const columns = passesOf(header).reduce((sum, pass) => sum + Math.max(0, pass.w), 0);
  return 2 * (rowBytesOf(header, header.width) + 1) + 4 * header.width + 4 * columns;
}

/** Refuses, from the header alone, a PNG whose rows would take more than PNG_MAX_WORK to decode. */
function assertWithinWork(header: PngHeader): void {
  const { rows, bytes } = pngWork(header);
  const work = bytes + rows * PNG_ROW_COST;
  if (work > PNG_MAX_WORK) {
    throw new PngLimitError(
      `The PNG is ${header.width}×${header.height} (${header.depth}-bit, ${header.interlace ? 'interlaced' : 'not interlaced'}): decoding it means ${bytes} bytes of rows in ${rows} rows, ${work} units of work (a row counts ${PNG_ROW_COST}), past the PNG decode limit of ${PNG_MAX_WORK} (a 100 MP 16-bit RGBA image of up to 65536 rows).`,
    );
  }
}

/** Inflates the image data and hands every unfiltered row of every pass to the sink. */
async function inflateRows(data: ReadableStream<Uint8Array>, header: PngHeader, expander: RowExpander, sink: RowSink): Promise<void> {
  const { expand, step } = expander;
  const channels = CHANNELS[header.colorType] as number;
  const bitsPerPixel = channels * header.depth;
  const bpp = Math.max(1, bitsPerPixel >> 3);
  const rowBytes = (w: number) => Math.ceil((w * bitsPerPixel) / 8);
  const passes = passesOf(header).filter((p) => p.w > 0 && p.h > 0);
  const widest = rowBytes(header.width);
  let row = new Uint8Array(widest + 1);
  let previous = new Uint8Array(widest + 1);
  const line = new Uint8Array(header.width * 4);

  const reader = data.pipeThrough(new DecompressionStream('deflate') as unknown as TransformStream<Uint8Array, Uint8Array>).getReader();
  let chunk: Uint8Array = new Uint8Array(0);
  try {
    for (const [p, pass] of passes.entries()) {
      const stride = rowBytes(pass.w);
      previous.fill(0, 0, stride + 1);
      for (let y = 0; y < pass.h; y++) {
        // Assemble the row (its filter byte, then `stride` bytes) from however the inflater splits it.
        for (let at = 0; at < stride + 1; ) {
          if (chunk.byteLength === 0) {
            const next = await reader.read().catch(() => {
              throw new PngError('damaged zlib data');
            });
            if (next.done) throw new PngError('image data ends early');
            chunk = next.value;
          }
          const n = Math.min(chunk.byteLength, stride + 1 - at);
          row.set(chunk.subarray(0, n), at);
          chunk = chunk.subarray(n);
          at += n;
        }
        unfilter(row[0] as number, row.subarray(1, stride + 1), previous.subarray(1, stride + 1), bpp, step);
        if (sink.wants(p, y)) {
          expand(row.subarray(1, stride + 1), pass.w, line);
          sink.row(p, y, line, pass.w);
        }
        [row, previous] = [previous, row];
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

function hasAlpha(header: PngHeader, transparency: Uint8Array | undefined): boolean {
  return header.colorType === 4 || header.colorType === 6 || transparency !== undefined;
}

interface RowExpander {
  expand: (row: Uint8Array, w: number, line: Uint8Array) => void;
  /** 2 when only the high byte of each 16-bit sample is used (and so unfiltered). */
  step: 1 | 2;
}

/**
 * A function that turns one unfiltered row of `w` pixels into 8-bit RGBA in `line`. The common
 * layouts (8-bit RGBA, RGB, grey, palette) get their own loop: a generic per-sample path is tens of
 * times slower on a 4 MP image.
 */
function rowExpander(header: PngHeader, palette: Uint8Array | undefined, transparency: Uint8Array | undefined): RowExpander {
  const { colorType, depth } = header;
  const channels = CHANNELS[colorType] as number;
  const max = 2 ** depth - 1;
  /** Sample `i` of a row (packed for depths below 8, big-endian pairs for 16). */
  const sample = (row: Uint8Array, i: number): number => {
    if (depth === 8) return row[i] as number;
    if (depth === 16) return ((row[2 * i] as number) << 8) | (row[2 * i + 1] as number);
    const bit = i * depth;
    return ((row[bit >> 3] as number) >> (8 - depth - (bit & 7))) & max;
  };
  const to8 = depth === 8 ? (v: number) => v : (v: number) => Math.round((v * 255) / max);
  if (colorType === 3) {
    // Palette entries as RGBA (tRNS gives their alpha); an index past the palette is opaque black.
    const table = new Uint8Array(256 * 4);
    for (let i = 0; i < 256; i++) {
      table[i * 4] = palette?.[i * 3] ?? 0;
      table[i * 4 + 1] = palette?.[i * 3 + 1] ?? 0;
      table[i * 4 + 2] = palette?.[i * 3 + 2] ?? 0;
      table[i * 4 + 3] = transparency?.[i] ?? 255;
    }
    const expand = (row: Uint8Array, w: number, line: Uint8Array) => {
      for (let x = 0; x < w; x++) {
        const k = (depth === 8 ? (row[x] as number) : sample(row, x)) * 4;
        line[x * 4] = table[k] as number;
        line[x * 4 + 1] = table[k + 1] as number;
        line[x * 4 + 2] = table[k + 2] as number;
        line[x * 4 + 3] = table[k + 3] as number;
      }
    };
    return { expand, step: 1 };
  }
  // tRNS for grey and truecolour: one sample value (16 bits each) that is transparent.
  const colour = channels >= 3 ? 3 : 1;
  const key = transparency && transparency.length >= 2 * colour ? Array.from({ length: colour }, (_, c) => ((transparency[2 * c] as number) << 8) | (transparency[2 * c + 1] as number)) : undefined;
  const alpha = channels === 2 || channels === 4;
  const expand = (row: Uint8Array, w: number, line: Uint8Array) => {
    if (depth === 8 && channels === 4) {
      line.set(row.subarray(0, w * 4));
    } else if (depth === 8 && channels === 3) {
      for (let x = 0; x < w; x++) {
        line[x * 4] = row[x * 3] as number;
        line[x * 4 + 1] = row[x * 3 + 1] as number;
        line[x * 4 + 2] = row[x * 3 + 2] as number;
        line[x * 4 + 3] = 255;
      }
    } else if (depth === 16) {
      // The high byte of each sample is its 8-bit value (v >> 8).
      const last = 2 * (channels - 1);
      for (let x = 0; x < w; x++) {
        const i = x * channels * 2;
        const v = row[i] as number;
        line[x * 4] = v;
        line[x * 4 + 1] = colour === 3 ? (row[i + 2] as number) : v;
        line[x * 4 + 2] = colour === 3 ? (row[i + 4] as number) : v;
        line[x * 4 + 3] = alpha ? (row[i + last] as number) : 255;
      }
    } else {
      for (let x = 0; x < w; x++) {
        const i = x * channels;
        for (let c = 0; c < 3; c++) line[x * 4 + c] = to8(sample(row, colour === 3 ? i + c : i));
        line[x * 4 + 3] = alpha ? to8(sample(row, i + channels - 1)) : 255;
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
  // A 16-bit sample's low byte only matters to a tRNS key, which compares all 16 bits.
  return { expand, step: depth === 16 && !key ? 2 : 1 };
}

/**
 * Reverses one row's filter in place (RFC 2083 §6), against the previous row of the same pass.
 * Every filter predicts a byte from the bytes at the same offset in the neighbouring pixels, so with
 * `step` 2 only the high bytes of 16-bit samples are restored (all that an 8-bit output keeps): half
 * the work. The first pixel (no left neighbour) is done apart, so the hot loops carry no bounds
 * test: Paeth over a 100 MP 16-bit image is 800 MB of bytes.
 */
function unfilter(filter: number, row: Uint8Array, up: Uint8Array, bpp: number, step: 1 | 2): void {
  const n = row.length;
  const first = Math.min(bpp, n);
  switch (filter) {
    case 0:
      return;
    case 1:
      for (let i = bpp; i < n; i += step) row[i] = ((row[i] as number) + (row[i - bpp] as number)) & 255;
      return;
    case 2:
      for (let i = 0; i < n; i += step) row[i] = ((row[i] as number) + (up[i] as number)) & 255;
      return;
    case 3:
      for (let i = 0; i < first; i += step) row[i] = ((row[i] as number) + ((up[i] as number) >> 1)) & 255;
      for (let i = bpp; i < n; i += step) row[i] = ((row[i] as number) + (((row[i - bpp] as number) + (up[i] as number)) >> 1)) & 255;
      return;
    case 4:
      // Without a left neighbour the predictor is the byte above.
      for (let i = 0; i < first; i += step) row[i] = ((row[i] as number) + (up[i] as number)) & 255;
      for (let i = bpp; i < n; i += step) {
        const a = row[i - bpp] as number;
        const b = up[i] as number;
        const c = up[i - bpp] as number;
        // |p − a|, |p − b|, |p − c| for p = a + b − c, without Math.abs.
        const pa = b > c ? b - c : c - b;
        const pb = a > c ? a - c : c - a;
        const d = a + b - 2 * c;
        const pc = d < 0 ? -d : d;
        row[i] = ((row[i] as number) + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 255;
      }
      return;
    default:
      throw new PngError(`row filter ${filter}`);
  }
}
