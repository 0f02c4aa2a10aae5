/**
 * A TIFF's first image file directory (TIFF 6.0, §2): its size, sample layout, compression and where
 * its strips or tiles are. Only the first page of a multi-page file is read. Every count is checked
 * against the bytes before anything is sized by it; every offset must fall inside the file.
 */

export class TiffError extends Error {}

export type Compression = 'none' | 'lzw' | 'deflate' | 'packbits' | 'jpeg';

export interface TiffInfo {
  width: number;
  height: number;
  littleEndian: boolean;
  bitsPerSample: number;
  samplesPerPixel: number;
  /** 0 WhiteIsZero, 1 BlackIsZero, 2 RGB, 3 palette, 6 YCbCr (JPEG only). */
  photometric: number;
  compression: Compression;
  /** 2: horizontal differencing. */
  predictor: 1 | 2;
  /** The sample after the colour ones is alpha; `associated` when premultiplied. */
  alpha: 'none' | 'unassociated' | 'associated';
  /** A segment's size in pixels: a strip is the image's width by RowsPerStrip. */
  segmentWidth: number;
  segmentHeight: number;
  tiled: boolean;
  offsets: number[];
  byteCounts: number[];
  /** ColorMap, 3 × 2^bitsPerSample 16-bit values (red ones, green ones, blue ones). */
  colorMap?: number[];
  /** JPEG compression's shared tables (tag 347): an abbreviated JPEG stream, SOI … EOI. */
  jpegTables?: Uint8Array;
}

/** A directory claiming more entries than this is damaged; real ones have a few dozen. */
export const TIFF_MAX_ENTRIES = 1024;
/** More segments than this is refused: 1 a row of a 100 MP image is ~10,000; a 16×16 tiling of it ~400,000. */
export const TIFF_MAX_SEGMENTS = 1_000_000;

const COMPRESSIONS: Record<number, Compression> = { 1: 'none', 5: 'lzw', 8: 'deflate', 32946: 'deflate', 32773: 'packbits', 7: 'jpeg' };
const TYPE_SIZES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8 };

/** Whether the bytes start like a classic TIFF (II*\0 or MM\0*). BigTIFF (43) is not read. */
export function isTiff(b: Uint8Array): boolean {
  return (b[0] === 0x49 && b[1] === 0x49 && b[2] === 42 && b[3] === 0) || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && b[3] === 42);
}

class Reader {
  constructor(
    readonly b: Uint8Array,
    readonly le: boolean,
  ) {}
  u16(i: number): number {
    const b = this.b;
    return this.le ? (b[i] ?? 0) | ((b[i + 1] ?? 0) << 8) : ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0);
  }
  u32(i: number): number {
    return this.le ? this.u16(i) + this.u16(i + 2) * 65536 : this.u16(i) * 65536 + this.u16(i + 2);
  }
}

/** Where the first directory is and how long it is (2 + 12 a entry + 4), from the first 8 bytes. */
export function firstDirectory(head: Uint8Array): { offset: number; littleEndian: boolean } {
  if (!isTiff(head) || head.length < 8) throw new TiffError('not a TIFF header');
  const le = head[0] === 0x49;
  const offset = new Reader(head, le).u32(4);
  if (offset < 8) throw new TiffError('the first directory is inside the header');
  return { offset, littleEndian: le };
}

/** The bytes a directory at `offset` spans, given its entry count (read at `offset`). */
export const directoryBytes = (entries: number) => 2 + 12 * entries + 4;

export interface Entry {
  type: number;
  count: number;
  /** Where the values are: in the entry itself when they fit in 4 bytes. */
  at: number;
}

/** The entries of the directory at `offset` of `b` (which must hold all of it), by tag. */
export function readEntries(b: Uint8Array, offset: number, le: boolean): Map<number, Entry> {
  const r = new Reader(b, le);
  if (offset + 2 > b.length) throw new TiffError('the first directory is past the end of the file');
  const n = r.u16(offset);
  if (n === 0 || n > TIFF_MAX_ENTRIES) throw new TiffError(`the first directory has ${n} entries`);
  if (offset + directoryBytes(n) - 4 > b.length) throw new TiffError('the first directory runs past the end of the file');
  const entries = new Map<number, Entry>();
  for (let k = 0; k < n; k++) {
    const e = offset + 2 + 12 * k;
    const type = r.u16(e + 2);
    const count = r.u32(e + 4);
    const size = (TYPE_SIZES[type] ?? 0) * count;
    entries.set(r.u16(e), { type, count, at: size <= 4 ? e + 8 : r.u32(e + 8) });
  }
  return entries;
}

/** Width and height from a directory's entries (what an upload's record needs). */
export function sizeOf(b: Uint8Array, entries: Map<number, Entry>, le: boolean): { width: number; height: number } | undefined {
  const width = scalar(b, entries.get(256), le);
  const height = scalar(b, entries.get(257), le);
  return width && height ? { width, height } : undefined;
}

function values(b: Uint8Array, e: Entry | undefined, le: boolean, most: number): number[] {
  if (!e) return [];
  const size = e.type === 3 ? 2 : e.type === 4 ? 4 : e.type === 1 || e.type === 7 ? 1 : 0;
  if (size === 0) throw new TiffError(`a tag has type ${e.type} where an integer was expected`);
  if (e.count > most) throw new TiffError(`a tag lists ${e.count} values, more than ${most}`);
  if (e.at + size * e.count > b.length) throw new TiffError('a tag\'s values run past the end of the file');
  const r = new Reader(b, le);
  const out = new Array<number>(e.count);
  for (let i = 0; i < e.count; i++) out[i] = size === 2 ? r.u16(e.at + 2 * i) : size === 4 ? r.u32(e.at + 4 * i) : (b[e.at + i] as number);
  return out;
}

const scalar = (b: Uint8Array, e: Entry | undefined, le: boolean): number | undefined => (e && e.count >= 1 ? values(b, { ...e, count: 1 }, le, 1)[0] : undefined);

/** The first image of a whole TIFF file, checked: what tiff.ts decodes. */
export function readTiff(b: Uint8Array): TiffInfo {
  const { offset, littleEndian: le } = firstDirectory(b);
  const entries = readEntries(b, offset, le);
  const one = (tag: number, fallback?: number): number => {
    const v = scalar(b, entries.get(tag), le) ?? fallback;
    if (v === undefined) throw new TiffError(`tag ${tag} is missing`);
    return v;
  };
  const size = sizeOf(b, entries, le);
  if (!size) throw new TiffError('the image has no width or height');
  const samplesPerPixel = one(277, 1);
  if (samplesPerPixel < 1 || samplesPerPixel > 8) throw new TiffError(`${samplesPerPixel} samples a pixel`);
  const bits = values(b, entries.get(258), le, 8);
  const bitsPerSample = bits[0] ?? 1;
  if (bits.some((v) => v !== bitsPerSample)) throw new TiffError(`samples of different sizes (${bits.join(', ')} bits) are not supported`);
  if (![1, 2, 4, 8, 16].includes(bitsPerSample)) throw new TiffError(`${bitsPerSample}-bit samples are not supported`);
  if (one(339, 1) !== 1) throw new TiffError('only unsigned integer samples are supported (SampleFormat 1)');
  if (one(284, 1) !== 1) throw new TiffError('separate colour planes (PlanarConfiguration 2) are not supported');
  const code = one(259, 1);
  const compression = COMPRESSIONS[code];
  if (!compression) throw new TiffError(`compression ${code} is not supported (none, LZW, deflate, PackBits and JPEG are)`);
  const photometric = one(262, samplesPerPixel >= 3 ? 2 : 1);
  const colours = photometric === 2 || photometric === 6 ? 3 : 1;
  if (![0, 1, 2, 3, 6].includes(photometric) || (photometric === 6 && compression !== 'jpeg')) throw new TiffError(`photometric interpretation ${photometric} is not supported`);
  if (samplesPerPixel < colours) throw new TiffError(`${samplesPerPixel} samples a pixel for ${colours} colours`);
  if (colours === 3 && bitsPerSample < 8) throw new TiffError(`${bitsPerSample}-bit RGB is not supported`);
  const predictor = one(317, 1);
  if (predictor !== 1 && (predictor !== 2 || bitsPerSample < 8)) throw new TiffError(`predictor ${predictor} with ${bitsPerSample}-bit samples is not supported`);
  const extra = samplesPerPixel > colours ? values(b, entries.get(338), le, 8)[0] : undefined;
  const alpha = extra === 1 ? 'associated' : extra === 2 || (extra === undefined && samplesPerPixel > colours) ? 'unassociated' : 'none';
  if (compression === 'jpeg' && (bitsPerSample !== 8 || (samplesPerPixel !== 1 && samplesPerPixel !== 3))) throw new TiffError('JPEG compression of other than 8-bit grey or colour is not supported');

  const tiled = entries.has(322) || entries.has(324);
  const segmentWidth = tiled ? one(322) : size.width;
  const segmentHeight = tiled ? one(323) : Math.min(one(278, size.height), size.height);
  if (segmentWidth < 1 || segmentHeight < 1 || (tiled && (segmentWidth % 16 !== 0 || segmentHeight % 16 !== 0))) throw new TiffError(`segments of ${segmentWidth}×${segmentHeight}`);
  const segments = Math.ceil(size.width / segmentWidth) * Math.ceil(size.height / segmentHeight);
  if (segments > TIFF_MAX_SEGMENTS) throw new TiffError(`${segments} strips or tiles, more than ${TIFF_MAX_SEGMENTS}`);
  const offsets = values(b, entries.get(tiled ? 324 : 273), le, segments);
  const byteCounts = values(b, entries.get(tiled ? 325 : 279), le, segments);
  if (offsets.length !== segments || byteCounts.length !== segments) throw new TiffError(`${offsets.length} offsets and ${byteCounts.length} byte counts for ${segments} strips or tiles`);
  for (let i = 0; i < segments; i++) {
    if ((offsets[i] as number) + (byteCounts[i] as number) > b.length) throw new TiffError('a strip or tile runs past the end of the file');
  }
  const info: TiffInfo = { ...size, littleEndian: le, bitsPerSample, samplesPerPixel, photometric, compression, predictor, alpha, segmentWidth, segmentHeight, tiled, offsets, byteCounts };
  if (photometric === 3) {
    info.colorMap = values(b, entries.get(320), le, 3 * 256);
    if (info.colorMap.length !== 3 * 2 ** bitsPerSample) throw new TiffError('the colour map does not match the sample size');
  }
  const tables = entries.get(347);
  if (tables && compression === 'jpeg') {
    if (tables.at + tables.count > b.length) throw new TiffError('the JPEG tables run past the end of the file');
    info.jpegTables = b.subarray(tables.at, tables.at + tables.count);
  }
  return info;
}

/**
 * Width and height from the first bytes of a file, or the bytes still needed when the directory
 * lies past them (writers often put it at the end). Undefined when it is not a readable TIFF.
 */
export function tiffDimensions(b: Uint8Array): { width: number; height: number } | { needBytes: number } | undefined {
  try {
    const { offset, littleEndian: le } = firstDirectory(b);
    if (offset + 2 > b.length) return { needBytes: offset + 2 };
    const n = new Reader(b, le).u16(offset);
    if (offset + directoryBytes(n) - 4 > b.length) return { needBytes: offset + directoryBytes(n) };
    return sizeOf(b, readEntries(b, offset, le), le);
  } catch {
    return undefined;
  }
}

/**
 * Width and height of a TIFF whose first directory lies past `head`, by two ranged reads of it (its
 * entry count, then its entries): at most 2 + 12 × TIFF_MAX_ENTRIES bytes, wherever it is in the file.
 */
export async function tiffSizeByRange(head: Uint8Array, size: number, read: (start: number, end: number) => Promise<Uint8Array>): Promise<{ width: number; height: number } | undefined> {
  try {
    const { offset, littleEndian: le } = firstDirectory(head);
    if (offset + 2 > size) return undefined;
    const n = new Reader(await read(offset, offset + 2), le).u16(0);
    if (n === 0 || n > TIFF_MAX_ENTRIES || offset + directoryBytes(n) - 4 > size) return undefined;
    const directory = await read(offset, offset + directoryBytes(n) - 4);
    return sizeOf(directory, readEntries(directory, 0, le), le);
  } catch {
    return undefined;
  }
}

/** The first directory's Orientation (tag 274, EXIF's values 1–8), wherever in `b` it lies; 1 without one. */
export function tiffOrientation(b: Uint8Array): number {
  try {
    const { offset, littleEndian: le } = firstDirectory(b);
    const value = scalar(b, readEntries(b, offset, le).get(274), le);
    return value !== undefined && value >= 1 && value <= 8 ? value : 1;
  } catch {
    return 1;
  }
}
