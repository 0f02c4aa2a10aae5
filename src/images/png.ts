/**
 * PNG (RFC 2083 / ISO 15948) decoded row by row into 8-bit RGBA, reduced as the rows come: memory
 * follows the output, not the source, so a 100 MP PNG is thumbnailed in a few MB. Every colour type
 * and bit depth, PLTE, tRNS and Adam7 interlacing. Inflating is the platform's own zlib
 * (DecompressionStream), which is native and checks the stream; the pure-JavaScript PNG decoder
 * tried first (fast-png over fflate 0.8.3) lost most of a valid 400 KB IDAT. Every loop is bounded:
 * the chunk walk by the bytes read, the rows by the size the header implies (inflated data past it
 * is cut, as libpng does; data that ends short is an error).
 */

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

export interface PngHeader {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  interlace: number;
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
const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const u32 = (b: Uint8Array, i: number) => ((b[i] as number) * 2 ** 24) + (((b[i + 1] as number) << 16) | ((b[i + 2] as number) << 8) | (b[i + 3] as number));

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

function singleChunk(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

/** Reads a byte stream in pieces of the caller's choosing, copying only pieces that span two reads. */
class ByteReader {
  private reader: ReadableStreamDefaultReader<Uint8Array>;
  private pending: Uint8Array = new Uint8Array(0);
  /** Why the source stream failed, when it did (whatever the inflater makes of it). */
  failure: unknown;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.reader = stream.getReader();
  }

  /** Up to `max` bytes (at least one); an error at the end of the stream. */
  async some(max: number): Promise<Uint8Array> {
    while (this.pending.byteLength === 0) {
      const { done, value } = await this.reader.read().catch((cause: unknown) => {
        this.failure = cause;
        throw cause;
      });
      if (done) throw new PngError('the file ends early');
      this.pending = value;
    }
    const piece = this.pending.subarray(0, max);
    this.pending = this.pending.subarray(piece.byteLength);
    return piece;
  }

  async exactly(n: number): Promise<Uint8Array> {
    const first = await this.some(n);
    if (first.byteLength === n) return first;
    const out = new Uint8Array(n);
    out.set(first);
    for (let at = first.byteLength; at < n; ) {
      const piece = await this.some(n - at);
      out.set(piece, at);
      at += piece.byteLength;
    }
    return out;
  }

  async skip(n: number): Promise<void> {
    for (let left = n; left > 0; ) left -= (await this.some(left)).byteLength;
  }

  async cancel(): Promise<void> {
    await this.reader.cancel().catch(() => {});
  }
}

/** A chunk's length and type, and the chunk's end (its data and CRC) still to read. */
async function chunkHead(bytes: ByteReader): Promise<{ length: number; type: string }> {
  const head = await bytes.exactly(8);
  const length = u32(head, 0);
  if (length > 2 ** 31 - 1) throw new PngError('chunk length out of range');
  return { length, type: String.fromCharCode(...head.subarray(4, 8)) };
}

/** IHDR, PLTE and tRNS (which must come before the image data), up to the first IDAT's head. */
async function readUntilImageData(bytes: ByteReader) {
  let header: PngHeader | undefined;
  let palette: Uint8Array | undefined;
  let transparency: Uint8Array | undefined;
  for (;;) {
    const { length, type } = await chunkHead(bytes);
    if (!header && type !== 'IHDR') throw new PngError('IHDR is not the first chunk');
    if (type === 'IDAT') {
      if (!header) throw new PngError('no IHDR');
      if (header.colorType === 3 && !palette) throw new PngError('indexed image without PLTE');
      return { header, palette, transparency, firstIdat: length };
    }
    if (type === 'IEND') throw new PngError('no IDAT');
    if (type === 'IHDR' || type === 'PLTE' || type === 'tRNS') {
      if (length > 768) throw new PngError(`${type} chunk too long`);
      const data = (await bytes.exactly(length)).slice();
      await bytes.skip(4);
      if (type === 'IHDR') {
        if (header || length !== 13) throw new PngError('bad IHDR');
        header = { width: u32(data, 0), height: u32(data, 4), depth: data[8] as number, colorType: data[9] as number, interlace: data[12] as number };
        if (header.width === 0 || header.height === 0) throw new PngError('empty image');
        if (!DEPTHS[header.colorType]?.includes(header.depth) || data[10] !== 0 || data[11] !== 0 || header.interlace > 1) throw new PngError('unsupported IHDR');
      } else if (type === 'PLTE') {
        if (length % 3 !== 0 || length === 0) throw new PngError('bad PLTE');
        palette = data;
      } else {
        transparency = data;
      }
    } else {
      await bytes.skip(length + 4);
    }
  }
}

/**
 * The zlib stream spread over consecutive IDAT chunks, as a stream pulled chunk by chunk (the first
 * IDAT's head was read already). It ends at the first chunk that is not an IDAT.
 */
function imageData(bytes: ByteReader, firstLength: number): ReadableStream<Uint8Array> {
  let left = firstLength;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (left === 0) {
        await bytes.skip(4);
        const { length, type } = await chunkHead(bytes);
        if (type !== 'IDAT') return controller.close();
        left = length;
      }
      const piece = await bytes.some(left);
      left -= piece.byteLength;
      controller.enqueue(piece);
    },
  });
}

interface RowSink {
  /** One row of pass `pass` (0 when not interlaced), `y` within the pass, as RGBA of `w` pixels. */
  row(pass: number, y: number, line: Uint8Array, w: number): void;
  /** Whether row `y` of `pass` lands in the kept region (others are unfiltered but not expanded). */
  wants(pass: number, y: number): boolean;
  result(): Uint8Array;
}

function passesOf(header: PngHeader) {
  const { width, height } = header;
  return (header.interlace ? ADAM7 : ([[0, 0, 1, 1]] as const)).map(([x0, y0, dx, dy]) => ({ x0, y0, dx, dy, w: Math.ceil((width - x0) / dx), h: Math.ceil((height - y0) / dy) }));
}

/** Inflates the image data and hands every unfiltered row of every pass to the sink. */
async function inflateRows(data: ReadableStream<Uint8Array>, header: PngHeader, expand: (row: Uint8Array, w: number, line: Uint8Array) => void, sink: RowSink): Promise<void> {
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
        unfilter(row[0] as number, row.subarray(1, stride + 1), previous.subarray(1, stride + 1), bpp);
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

/** For each pixel of each pass, the output pixel it lands in (-1: outside the kept region). */
function outputMaps(header: PngHeader, r: PngReduction) {
  const at = (n: number, start: number, size: number, out: number) => {
    const i = n - start;
    return i < 0 || i >= size ? -1 : Math.floor((i * out) / size);
  };
  return passesOf(header).map((pass) => ({
    xs: Int32Array.from({ length: Math.max(0, pass.w) }, (_, i) => at(pass.x0 + i * pass.dx, r.left, r.width, r.outWidth)),
    ys: Int32Array.from({ length: Math.max(0, pass.h) }, (_, j) => at(pass.y0 + j * pass.dy, r.top, r.height, r.outHeight)),
  }));
}

/** Keeps the region's pixels as they are. */
class Copy implements RowSink {
  private readonly out: Uint8Array;
  private readonly out32: Uint32Array;
  private readonly maps;

  constructor(header: PngHeader, private readonly r: PngReduction) {
    this.out = new Uint8Array(r.outWidth * r.outHeight * 4);
    this.out32 = new Uint32Array(this.out.buffer);
    this.maps = outputMaps(header, r);
  }

  wants(pass: number, y: number): boolean {
    return (this.maps[pass]?.ys[y] ?? -1) >= 0;
  }

  row(pass: number, y: number, line: Uint8Array, w: number): void {
    const { xs, ys } = this.maps[pass] as { xs: Int32Array; ys: Int32Array };
    const base = (ys[y] as number) * this.r.outWidth;
    const line32 = new Uint32Array(line.buffer, line.byteOffset, w);
    for (let x = 0; x < w; x++) {
      const o = xs[x] as number;
      if (o >= 0) this.out32[base + o] = line32[x] as number;
    }
  }

  result(): Uint8Array {
    return this.out;
  }
}

/**
 * Averages the source pixels falling in each output pixel (a box filter). Colour sums are weighted
 * by alpha; sums are float64, exact for any count a 2^53-sample image could give.
 */
class Average implements RowSink {
  private readonly sums: Float64Array;
  private readonly counts: { x: Uint32Array; y: Uint32Array };
  private readonly maps;

  constructor(header: PngHeader, private readonly r: PngReduction, private readonly alpha: boolean) {
    this.sums = new Float64Array(r.outWidth * r.outHeight * 4);
    this.maps = outputMaps(header, r);
    const count = (n: number, size: number) => {
      const c = new Uint32Array(n);
      for (let i = 0; i < size; i++) {
        const k = Math.floor((i * n) / size);
        c[k] = (c[k] as number) + 1;
      }
      return c;
    };
    this.counts = { x: count(r.outWidth, r.width), y: count(r.outHeight, r.height) };
  }

  wants(pass: number, y: number): boolean {
    return (this.maps[pass]?.ys[y] ?? -1) >= 0;
  }

  row(pass: number, y: number, line: Uint8Array, w: number): void {
    const { xs, ys } = this.maps[pass] as { xs: Int32Array; ys: Int32Array };
    const s = this.sums;
    const base = (ys[y] as number) * this.r.outWidth * 4;
    if (this.alpha) {
      for (let x = 0; x < w; x++) {
        const c = xs[x] as number;
        if (c < 0) continue;
        const o = base + c * 4;
        const i = x * 4;
        const a = line[i + 3] as number;
        s[o] = (s[o] as number) + (line[i] as number) * a;
        s[o + 1] = (s[o + 1] as number) + (line[i + 1] as number) * a;
        s[o + 2] = (s[o + 2] as number) + (line[i + 2] as number) * a;
        s[o + 3] = (s[o + 3] as number) + a;
      }
    } else {
      for (let x = 0; x < w; x++) {
        const c = xs[x] as number;
        if (c < 0) continue;
        const o = base + c * 4;
        const i = x * 4;
        s[o] = (s[o] as number) + (line[i] as number);
        s[o + 1] = (s[o + 1] as number) + (line[i + 1] as number);
        s[o + 2] = (s[o + 2] as number) + (line[i + 2] as number);
      }
    }
  }

  result(): Uint8Array {
    const { outWidth, outHeight } = this.r;
    const out = new Uint8Array(outWidth * outHeight * 4);
    const s = this.sums;
    for (let cy = 0; cy < outHeight; cy++) {
      for (let cx = 0; cx < outWidth; cx++) {
        const o = (cy * outWidth + cx) * 4;
        const n = (this.counts.x[cx] as number) * (this.counts.y[cy] as number);
        if (this.alpha) {
          const a = s[o + 3] as number;
          if (a > 0) for (let k = 0; k < 3; k++) out[o + k] = Math.round((s[o + k] as number) / a);
          out[o + 3] = Math.round(a / n);
        } else {
          for (let k = 0; k < 3; k++) out[o + k] = Math.round((s[o + k] as number) / n);
          out[o + 3] = 255;
        }
      }
    }
    return out;
  }
}

function hasAlpha(header: PngHeader, transparency: Uint8Array | undefined): boolean {
  return header.colorType === 4 || header.colorType === 6 || transparency !== undefined;
}

/**
 * A function that turns one unfiltered row of `w` pixels into 8-bit RGBA in `line`. The common
 * layouts (8-bit RGBA, RGB, grey, palette) get their own loop: a generic per-sample path is tens of
 * times slower on a 4 MP image.
 */
function rowExpander(header: PngHeader, palette: Uint8Array | undefined, transparency: Uint8Array | undefined) {
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
  const alpha = channels === 2 || channels === 4;
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
