/**
 * TIFF (6.0, baseline and the common extensions) decoded into 8-bit RGBA, reduced as it decodes:
 * strips or tiles are decompressed one band (a row of segments) at a time and their rows handed to
 * the same sinks as PNG's (./png-rows.ts: kept as they are, or averaged into a smaller image), so
 * what is held is one band and the output. A band none of whose rows are kept is never decompressed.
 * Grey, palette, RGB, with or without alpha; 1 to 16 bits; none, LZW, deflate, PackBits or JPEG
 * (libjpeg-turbo, ./jpeg-turbo.ts); the first page only.
 */

import { readDimensions } from './dimensions.ts';
import { decodeJpeg } from './jpeg-turbo.ts';
import type { PngReduction } from './png.ts';
import { Average, Copy, type RowSink } from './png-rows.ts';
import { inflate, undoPredictor, unLzw, unpackBits, withTables } from './tiff-codecs.ts';
import { readTiff, TiffError, type TiffInfo } from './tiff-ifd.ts';

export { TiffError, type TiffInfo };

/** The part of the image to keep and the size to reduce it to, as for PNG. */
export type TiffReduction = PngReduction;

/** A TIFF refused for the work or memory it would take, before any: its message names the limit. */
export class TiffLimitError extends Error {}

/**
 * Decoding work, in bytes of decompressed segments, with each row counted at TIFF_ROW_COST more and
 * each strip or tile at TIFF_SEGMENT_COST (its decompressor's set-up). The limit is PNG's: the work
 * of a 100 MP 16-bit RGBA image over as many rows as a square one has.
 */
export const TIFF_ROW_COST = 256;
export const TIFF_SEGMENT_COST = 1024;
export const TIFF_MAX_WORK = 100_000_000 * 8 + 65_536 * TIFF_ROW_COST;

interface Layout {
  across: number;
  down: number;
  /** Bytes of one row of a segment, and of one whole (full-height) segment, as decompressed. */
  rowBytes: number;
  segmentBytes: number;
}

function layoutOf(info: TiffInfo): Layout {
  const across = Math.ceil(info.width / info.segmentWidth);
  const down = Math.ceil(info.height / info.segmentHeight);
  const rowBytes = info.compression === 'jpeg' ? info.segmentWidth * 4 : Math.ceil((info.segmentWidth * info.samplesPerPixel * info.bitsPerSample) / 8);
  return { across, down, rowBytes, segmentBytes: rowBytes * info.segmentHeight };
}

/** The work a decode does, in the units of TIFF_MAX_WORK. */
export function tiffWork(info: TiffInfo): number {
  const { across, down, segmentBytes } = layoutOf(info);
  return across * down * (segmentBytes + TIFF_SEGMENT_COST) + info.height * TIFF_ROW_COST;
}

/**
 * What a decode holds besides its output, all sized by one band: its segments as decompressed (a
 * JPEG one twice: libjpeg's output and its copy), one RGBA line and the sink's column map. A caller
 * counts it in its memory budget before decoding.
 */
export function tiffStateBytes(info: TiffInfo): number {
  const { across, segmentBytes } = layoutOf(info);
  return across * segmentBytes + (info.compression === 'jpeg' ? segmentBytes : 0) + 8 * across * info.segmentWidth;
}

/**
 * Decodes the first image of a TIFF file. `reduce`, given its directory, says which part to keep
 * and at what size; by default the whole image at its own size.
 */
export async function decodeTiff(bytes: Uint8Array, reduce?: (info: TiffInfo) => TiffReduction): Promise<{ width: number; height: number; data: Uint8Array }> {
  const info = readTiff(bytes);
  const work = tiffWork(info);
  if (work > TIFF_MAX_WORK) {
    throw new TiffLimitError(
      `The TIFF is ${info.width}×${info.height} in ${info.offsets.length} ${info.tiled ? 'tiles' : 'strips'} of ${info.segmentWidth}×${info.segmentHeight}: decoding it is ${work} units of work (a byte each, ${TIFF_ROW_COST} a row, ${TIFF_SEGMENT_COST} a strip or tile), past the TIFF decode limit of ${TIFF_MAX_WORK}.`,
    );
  }
  const r = reduce ? reduce(info) : { left: 0, top: 0, width: info.width, height: info.height, outWidth: info.width, outHeight: info.height };
  if (r.left < 0 || r.top < 0 || r.width < 1 || r.height < 1 || r.left + r.width > info.width || r.top + r.height > info.height) throw new TiffError('reduction outside the image');
  if (r.outWidth < 1 || r.outHeight < 1 || r.outWidth > r.width || r.outHeight > r.height) throw new TiffError('reduction larger than its region');
  const header = { width: info.width, height: info.height, depth: 8, colorType: 6, interlace: 0 };
  const sink: RowSink = r.outWidth === r.width && r.outHeight === r.height ? new Copy(header, r) : new Average(header, r, info.alpha !== 'none');
  await decodeBands(bytes, info, sink);
  return { width: r.outWidth, height: r.outHeight, data: sink.result() };
}

async function decodeBands(bytes: Uint8Array, info: TiffInfo, sink: RowSink): Promise<void> {
  const layout = layoutOf(info);
  const expand = rowExpander(info);
  const line = new Uint8Array(layout.across * info.segmentWidth * 4);
  for (let band = 0; band < layout.down; band++) {
    const y0 = band * info.segmentHeight;
    const rows = Math.min(info.segmentHeight, info.height - y0);
    let wanted = false;
    for (let y = y0; y < y0 + rows && !wanted; y++) wanted = sink.wants(0, y);
    if (!wanted) continue;
    // A strip holds only the image's rows (the last one fewer); a tile is always whole.
    const segmentRows = info.tiled ? info.segmentHeight : rows;
    const segments: Uint8Array[] = [];
    for (let t = 0; t < layout.across; t++) segments.push(await segment(bytes, info, band * layout.across + t, segmentRows, layout.rowBytes));
    for (let r = 0; r < rows; r++) {
      if (!sink.wants(0, y0 + r)) continue;
      for (let t = 0; t < layout.across; t++) expand((segments[t] as Uint8Array).subarray(r * layout.rowBytes, (r + 1) * layout.rowBytes), line.subarray(t * info.segmentWidth * 4));
      sink.row(0, y0 + r, line, info.width);
    }
  }
}

/** Segment `k` decompressed (and its predictor undone): `rows` rows of `rowBytes`, no more, no less. */
async function segment(bytes: Uint8Array, info: TiffInfo, k: number, rows: number, rowBytes: number): Promise<Uint8Array> {
  const offset = info.offsets[k] as number;
  const src = bytes.subarray(offset, offset + (info.byteCounts[k] as number));
  const expected = rows * rowBytes;
  let out: Uint8Array;
  switch (info.compression) {
    case 'none':
      if (src.length < expected) throw new TiffError('an uncompressed strip or tile is shorter than its rows');
      out = info.predictor === 2 ? src.slice(0, expected) : src.subarray(0, expected);
      break;
    case 'packbits':
      out = unpackBits(src, expected);
      break;
    case 'lzw':
      out = unLzw(src, expected);
      break;
    case 'deflate':
      out = await inflate(src, expected);
      break;
    case 'jpeg': {
      const jpeg = withTables(src, info.jpegTables);
      // The frame's size is checked before libjpeg allocates for it: a segment is at most its tile.
      const frame = readDimensions(jpeg);
      if (!frame || !('width' in frame) || frame.format !== 'jpeg' || frame.width !== info.segmentWidth || frame.height > info.segmentHeight) {
        throw new TiffError(`a JPEG strip or tile is not a JPEG of at most ${info.segmentWidth}×${info.segmentHeight}`);
      }
      const decoded = decodeJpeg(jpeg, 8);
      // The checked size is the decoded size: a JPEG segment must be the segment's width and rows.
      if (decoded.width !== info.segmentWidth || decoded.height < rows || decoded.height > info.segmentHeight) {
        throw new TiffError(`a JPEG strip or tile is ${decoded.width}×${decoded.height}, not ${info.segmentWidth}×${rows}`);
      }
      return decoded.data.subarray(0, expected);
    }
  }
  if (info.predictor === 2) undoPredictor(out, rows, info.segmentWidth, info.samplesPerPixel, info.bitsPerSample as 8 | 16, info.littleEndian);
  return out;
}

/**
 * A function that turns one decompressed segment row into 8-bit RGBA at the start of `line`. The
 * common layouts (8-bit RGB, RGBA, grey; JPEG's RGBA) get their own loop; the rest go sample by sample.
 */
function rowExpander(info: TiffInfo): (row: Uint8Array, line: Uint8Array) => void {
  const w = info.segmentWidth;
  const { samplesPerPixel: spp, bitsPerSample: bits, photometric, alpha, littleEndian } = info;
  if (info.compression === 'jpeg') return (row, line) => line.set(row.subarray(0, w * 4));
  const colours = photometric === 2 ? 3 : 1;
  const hasAlpha = alpha !== 'none';
  if (bits === 8 && colours === 3 && alpha !== 'associated') {
    return (row, line) => {
      for (let x = 0; x < w; x++) {
        const i = x * spp;
        line[x * 4] = row[i] as number;
        line[x * 4 + 1] = row[i + 1] as number;
        line[x * 4 + 2] = row[i + 2] as number;
        line[x * 4 + 3] = hasAlpha ? (row[i + 3] as number) : 255;
      }
    };
  }
  const max = 2 ** bits - 1;
  const sample = (row: Uint8Array, i: number): number => {
    if (bits === 8) return row[i] as number;
    if (bits === 16) return littleEndian ? (row[2 * i + 1] as number) : (row[2 * i] as number);
    const bit = i * bits;
    return ((row[bit >> 3] as number) >> (8 - bits - (bit & 7))) & max;
  };
  // 16-bit samples keep their high byte (what `sample` gives); packed ones are scaled to 0–255.
  const to8 = bits >= 8 ? (v: number) => v : (v: number) => Math.round((v * 255) / max);
  const map = info.colorMap;
  const n = 2 ** bits;
  return (row, line) => {
    for (let x = 0; x < w; x++) {
      const i = x * spp;
      const o = x * 4;
      if (map) {
        const k = sample(row, i);
        line[o] = (map[k] as number) >> 8;
        line[o + 1] = (map[n + k] as number) >> 8;
        line[o + 2] = (map[2 * n + k] as number) >> 8;
      } else if (colours === 3) {
        line[o] = to8(sample(row, i));
        line[o + 1] = to8(sample(row, i + 1));
        line[o + 2] = to8(sample(row, i + 2));
      } else {
        const v = to8(sample(row, i));
        line[o] = line[o + 1] = line[o + 2] = photometric === 0 ? 255 - v : v;
      }
      const a = hasAlpha ? to8(sample(row, i + colours)) : 255;
      line[o + 3] = a;
      if (alpha === 'associated' && a > 0 && a < 255) {
        for (let c = 0; c < 3; c++) line[o + c] = Math.min(255, Math.round(((line[o + c] as number) * 255) / a));
      }
    }
  };
}
