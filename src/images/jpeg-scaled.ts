/**
 * Shrink-on-load for baseline JPEG: decodes at 1/2, 1/4 or 1/8 of the size straight from the DCT
 * coefficients, as libjpeg's scaled IDCT (and so libvips and sharp) do. Every coefficient is still
 * Huffman-decoded (the bitstream must be walked), but only the top-left N×N of each 8×8 block is
 * inverse-transformed, and only N×N samples a block are kept: a 12 MP photo decoded at 1/8 needs
 * about 1 MB instead of photon's ~85 MB, and a fraction of its time.
 *
 * Supported: 8-bit baseline and extended Huffman (SOF0/SOF1), one interleaved scan, 1 or 3
 * components (grayscale, YCbCr), any sampling factors, restart intervals. Anything else returns
 * undefined and the caller decodes in full with photon.
 *
 * Hostile input: every header field the decoder uses is checked (segment lengths, table classes and
 * ids, Huffman code space, sampling factors 1–4 and at most 10 blocks an MCU, one frame header, the
 * scan's components and spectral range), and the entropy decoder is bounded by the input: a block
 * takes at least two bits, so once the data of a restart interval is exhausted (a marker or the end
 * reached, beyond the few bytes a reader prefetches) the file is refused as truncated instead of
 * decoding zeros for as many blocks as the header claims.
 *
 * The scaled IDCT: y(m,n) = ¼ Σu<N Σv<N C(u)C(v)·F(u,v)·cos((2m+1)uπ/2N)·cos((2n+1)vπ/2N), which
 * for N = 1 is the block mean F(0,0)/8 (ITU-T T.81 A.3.3, evaluated on the N-point grid).
 */

const ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29,
  22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

interface Huffman {
  /** 9-bit lookup: (length << 8) | symbol, or 0 when the code is longer. */
  fast: Uint16Array;
  maxcode: Int32Array;
  valptr: Int32Array;
  mincode: Int32Array;
  values: Uint8Array;
}

interface Component {
  id: number;
  h: number;
  v: number;
  tq: number;
  dc: Huffman | undefined;
  ac: Huffman | undefined;
  pred: number;
  /** Samples a block gives across and down: chroma is scaled less than luma, as libjpeg does. */
  nx: number;
  ny: number;
  /** Scaled samples, `stride` wide. */
  plane: Uint8Array;
  stride: number;
}

const FAST_BITS = 9;

function buildHuffman(counts: Uint8Array, values: Uint8Array): Huffman {
  if (counts.length !== 16) throw new CorruptJpeg('Huffman table cut short');
  const fast = new Uint16Array(1 << FAST_BITS);
  const maxcode = new Int32Array(18).fill(-1);
  const valptr = new Int32Array(17);
  const mincode = new Int32Array(17);
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    const n = counts[len - 1] as number;
    valptr[len] = k;
    mincode[len] = code;
    for (let i = 0; i < n; i++) {
      if (len <= FAST_BITS) {
        const shift = FAST_BITS - len;
        for (let j = 0; j < 1 << shift; j++) fast[(code << shift) | j] = (len << 8) | (values[k] as number);
      }
      code++;
      k++;
    }
    // More codes of a length than the code space holds: the table is not a prefix code.
    if (code > 1 << len) throw new CorruptJpeg('Huffman table overflows its code space');
    maxcode[len] = n > 0 ? code - 1 : -1;
    code <<= 1;
  }
  maxcode[17] = 0x7fffffff;
  return { fast, maxcode, valptr, mincode, values };
}

class UnsupportedJpeg extends Error {}
/** A JPEG that breaks the format: the caller answers 422, never falls back to a full decode. */
class CorruptJpeg extends Error {}

/** Zero bytes the bit reader may feed past the data of a restart interval (its 32-bit prefetch, with slack). */
const MAX_PADDING = 8;

/** Bit reader over entropy-coded data: skips FF00 stuffing, stops (feeding zeros) at markers. */
class Bits {
  private buf = 0;
  private count = 0;
  /** Zero bytes fed since the data ran out (a marker or the end) in this restart interval. */
  private padding = 0;
  marker = -1;

  constructor(
    private readonly data: Uint8Array,
    public pos: number,
  ) {}

  private fill(): void {
    while (this.count <= 24) {
      let byte = 0;
      if (this.marker >= 0 || this.pos >= this.data.length) {
        if (++this.padding > MAX_PADDING) throw new CorruptJpeg('entropy-coded data ends before the last block');
      } else {
        byte = this.data[this.pos++] as number;
        if (byte === 0xff) {
          const next = this.data[this.pos] as number;
          if (next === 0) this.pos++;
          else {
            this.marker = next;
            this.pos++;
            byte = 0;
          }
        }
      }
      this.buf = ((this.buf << 8) | byte) >>> 0;
      this.count += 8;
    }
  }

  peek(n: number): number {
    if (this.count < n) this.fill();
    return (this.buf >>> (this.count - n)) & ((1 << n) - 1);
  }

  skip(n: number): void {
    this.count -= n;
  }

  /** Drops n bits that were not peeked first. */
  drop(n: number): void {
    if (this.count < n) this.fill();
    this.count -= n;
  }

  get(n: number): number {
    if (n === 0) return 0;
    const v = this.peek(n);
    this.count -= n;
    return v;
  }

  decode(h: Huffman): number {
    const look = h.fast[this.peek(FAST_BITS)] as number;
    if (look !== 0) {
      this.skip(look >> 8);
      return look & 0xff;
    }
    let code = this.get(FAST_BITS);
    for (let len = FAST_BITS + 1; len <= 16; len++) {
      code = (code << 1) | this.get(1);
      if (code <= (h.maxcode[len] as number)) return h.values[(h.valptr[len] as number) + code - (h.mincode[len] as number)] as number;
    }
    throw new CorruptJpeg('bad Huffman code');
  }

  /** Restart: drop buffered bits and move past the RSTn marker. */
  restart(): void {
    this.buf = 0;
    this.count = 0;
    this.padding = 0;
    if (this.marker >= 0xd0 && this.marker <= 0xd7) {
      this.marker = -1;
      return;
    }
    // Every interval must start at a real RSTn marker: without one the data has run out.
    if (this.marker >= 0) throw new CorruptJpeg('restart marker missing');
    while (this.pos + 1 < this.data.length) {
      if (this.data[this.pos] === 0xff && (this.data[this.pos + 1] as number) >= 0xd0 && (this.data[this.pos + 1] as number) <= 0xd7) {
        this.pos += 2;
        return;
      }
      this.pos++;
    }
    throw new CorruptJpeg('restart marker missing');
  }
}

const extend = (v: number, s: number) => (v < 1 << (s - 1) ? v - (1 << s) + 1 : v);

/** cos tables for the N-point grid: T[m*N+u] = C(u)·cos((2m+1)uπ/2N). */
function cosTable(n: number): Float64Array {
  const t = new Float64Array(n * n);
  for (let m = 0; m < n; m++) for (let u = 0; u < n; u++) t[m * n + u] = (u === 0 ? Math.SQRT1_2 : 1) * Math.cos(((2 * m + 1) * u * Math.PI) / (2 * n));
  return t;
}

export interface ScaledImage {
  width: number;
  height: number;
  /** RGBA. */
  pixels: Uint8Array;
}

/**
 * Decodes `data` at scale N/8 (N = 1, 2 or 4). Undefined when the file is not a JPEG this decoder
 * handles (progressive, arithmetic-coded, CMYK, 12-bit, several scans); throws on corrupt data, which
 * must not be handed to another decoder either.
 */
export function decodeJpegScaled(data: Uint8Array, n: 1 | 2 | 4): ScaledImage | undefined {
  try {
    return decode(data, n);
  } catch (error) {
    if (error instanceof UnsupportedJpeg) return undefined;
    throw error;
  }
}

function decode(data: Uint8Array, n: number): ScaledImage {
  const qt: Int32Array[] = [];
  const dcTables: Huffman[] = [];
  const acTables: Huffman[] = [];
  let components: Component[] = [];
  let width = 0;
  let height = 0;
  let restartInterval = 0;
  let pos = 2;
  if (data[0] !== 0xff || data[1] !== 0xd8) throw new UnsupportedJpeg('not a JPEG');

  for (;;) {
    if (pos + 4 > data.length) throw new CorruptJpeg('no scan');
    if (data[pos] !== 0xff) throw new CorruptJpeg('marker expected');
    const marker = data[pos + 1] as number;
    if (marker === 0xff) {
      pos++;
      continue;
    }
    const length = ((data[pos + 2] as number) << 8) | (data[pos + 3] as number);
    if (length < 2 || pos + 2 + length > data.length) throw new CorruptJpeg('segment length');
    const seg = data.subarray(pos + 4, pos + 2 + length);
    pos += 2 + length;
    if (marker === 0xdb) {
      for (let i = 0; i < seg.length; ) {
        const pq = (seg[i] as number) >> 4;
        const tq = (seg[i] as number) & 15;
        if (pq > 1 || tq > 3 || i + 1 + 64 * (pq + 1) > seg.length) throw new CorruptJpeg('quantization table');
        const table = new Int32Array(64);
        for (let k = 0; k < 64; k++) table[k] = pq ? ((seg[i + 1 + 2 * k] as number) << 8) | (seg[i + 2 + 2 * k] as number) : (seg[i + 1 + k] as number);
        qt[tq] = table;
        i += 1 + 64 * (pq ? 2 : 1);
      }
    } else if (marker === 0xc4) {
      for (let i = 0; i < seg.length; ) {
        const tc = (seg[i] as number) >> 4;
        const th = (seg[i] as number) & 15;
        const counts = seg.subarray(i + 1, i + 17);
        const total = counts.reduce((a, b) => a + b, 0);
        if (tc > 1 || th > 3 || total > 256 || i + 17 + total > seg.length) throw new CorruptJpeg('Huffman table');
        const table = buildHuffman(counts, seg.subarray(i + 17, i + 17 + total));
        if (tc === 0) dcTables[th] = table;
        else acTables[th] = table;
        i += 17 + total;
      }
    } else if (marker === 0xdd) {
      if (seg.length !== 2) throw new CorruptJpeg('restart interval');
      restartInterval = ((seg[0] as number) << 8) | (seg[1] as number);
    } else if (marker === 0xc0 || marker === 0xc1) {
      // One frame: a second header would decode at a size other than the one that was checked.
      if (components.length > 0) throw new CorruptJpeg('two frame headers');
      if (seg.length < 6) throw new CorruptJpeg('frame header');
      if (seg[0] !== 8) throw new UnsupportedJpeg('not 8-bit');
      height = ((seg[1] as number) << 8) | (seg[2] as number);
      width = ((seg[3] as number) << 8) | (seg[4] as number);
      const count = seg[5] as number;
      if (width === 0 || height === 0) throw new UnsupportedJpeg('size defined later (DNL)');
      if (count !== 1 && count !== 3) throw new UnsupportedJpeg('components');
      if (seg.length !== 6 + 3 * count) throw new CorruptJpeg('frame header');
      for (let i = 0; i < count; i++) {
        const b = seg.subarray(6 + 3 * i, 9 + 3 * i);
        const h = (b[1] as number) >> 4;
        const v = (b[1] as number) & 15;
        if (h < 1 || h > 4 || v < 1 || v > 4 || (b[2] as number) > 3 || components.some((c) => c.id === b[0])) throw new CorruptJpeg('frame component');
        components.push({ id: b[0] as number, h, v, tq: b[2] as number, dc: undefined, ac: undefined, pred: 0, nx: 0, ny: 0, plane: new Uint8Array(0), stride: 0 });
      }
      // ITU-T T.81 B.2.3: an interleaved MCU holds at most 10 blocks.
      if (count > 1 && components.reduce((n, c) => n + c.h * c.v, 0) > 10) throw new CorruptJpeg('too many blocks an MCU');
    } else if (marker >= 0xc2 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      throw new UnsupportedJpeg('progressive or arithmetic');
    } else if (marker === 0xda) {
      const ns = seg[0] as number;
      if (components.length === 0) throw new CorruptJpeg('scan before the frame header');
      if (ns !== components.length) throw new UnsupportedJpeg('scan layout');
      if (seg.length !== 4 + 2 * ns) throw new CorruptJpeg('scan header');
      // Baseline: the whole spectrum in one scan, no successive approximation.
      if (seg[1 + 2 * ns] !== 0 || seg[2 + 2 * ns] !== 63 || seg[3 + 2 * ns] !== 0) throw new CorruptJpeg('scan spectral range');
      const seen = new Set<Component>();
      for (let i = 0; i < ns; i++) {
        const c = components.find((x) => x.id === seg[1 + 2 * i]);
        const td = (seg[2 + 2 * i] as number) >> 4;
        const ta = (seg[2 + 2 * i] as number) & 15;
        if (!c || seen.has(c) || td > 3 || ta > 3) throw new CorruptJpeg('scan component');
        seen.add(c);
        c.dc = dcTables[td];
        c.ac = acTables[ta];
        if (!c.dc || !c.ac || !qt[c.tq]) throw new CorruptJpeg('tables');
      }
      return scan(data, pos, components, qt, width, height, restartInterval, n);
    } else if (marker === 0xd9) {
      throw new CorruptJpeg('no scan');
    }
  }
}

function scan(data: Uint8Array, pos: number, comps: Component[], qt: Int32Array[], width: number, height: number, restartInterval: number, n: number): ScaledImage {
  const hmax = Math.max(...comps.map((c) => c.h));
  const vmax = Math.max(...comps.map((c) => c.v));
  const mcusX = Math.ceil(width / (8 * hmax));
  const mcusY = Math.ceil(height / (8 * vmax));
  // A subsampled component is inverse-transformed at a larger size, so that every plane has the
  // output's resolution (libjpeg's jdmaster does the same) instead of being blown up afterwards.
  const cosTables = new Map<number, Float64Array>();
  const layouts = comps.map((c) => {
    c.nx = Math.min(8, (n * hmax) / c.h);
    c.ny = Math.min(8, (n * vmax) / c.v);
    c.stride = mcusX * c.h * c.nx;
    c.plane = new Uint8Array(c.stride * mcusY * c.v * c.ny);
    for (const size of [c.nx, c.ny]) if (!cosTables.has(size)) cosTables.set(size, cosTable(size));
    // The natural index of each zigzag position that is kept (row below ny, column below nx), else -1.
    const keepAt = new Int16Array(64).fill(-1);
    for (let k = 0; k < 64; k++) {
      const z = ZIGZAG[k] as number;
      if (z >> 3 < c.ny && (z & 7) < c.nx) keepAt[k] = (z >> 3) * c.nx + (z & 7);
    }
    return { keepAt, cosX: cosTables.get(c.nx) as Float64Array, cosY: cosTables.get(c.ny) as Float64Array };
  });
  const coef = new Float64Array(64);
  const tmp = new Float64Array(64);
  const bits = new Bits(data, pos);
  let mcu = 0;
  for (let my = 0; my < mcusY; my++) {
    for (let mx = 0; mx < mcusX; mx++) {
      if (restartInterval && mcu > 0 && mcu % restartInterval === 0) {
        bits.restart();
        for (const c of comps) c.pred = 0;
      }
      mcu++;
      for (let ci = 0; ci < comps.length; ci++) {
        const c = comps[ci] as Component;
        const { keepAt, cosX, cosY } = layouts[ci] as (typeof layouts)[number];
        const { nx, ny } = c;
        const q = qt[c.tq] as Int32Array;
        const dc = c.dc as Huffman;
        const ac = c.ac as Huffman;
        for (let by = 0; by < c.v; by++) {
          for (let bx = 0; bx < c.h; bx++) {
            coef.fill(0);
            const s = bits.decode(dc);
            if (s > 11) throw new CorruptJpeg('DC difference category');
            c.pred += s ? extend(bits.get(s), s) : 0;
            coef[0] = c.pred * (q[0] as number);
            for (let k = 1; k < 64; ) {
              const rs = bits.decode(ac);
              const r = rs >> 4;
              const size = rs & 15;
              if (size === 0) {
                if (r !== 15) break;
                k += 16;
                continue;
              }
              k += r;
              const at = k < 64 ? (keepAt[k] as number) : -1;
              // Most coefficients are beyond the N×N kept: their value bits are skipped unread.
              if (at >= 0) coef[at] = extend(bits.get(size), size) * (q[k] as number);
              else bits.drop(size);
              k++;
            }
            // Separable scaled IDCT: columns (vertical frequencies), then rows.
            for (let col = 0; col < nx; col++) {
              for (let y = 0; y < ny; y++) {
                let sum = 0;
                for (let v = 0; v < ny; v++) sum += (cosY[y * ny + v] as number) * (coef[v * nx + col] as number);
                tmp[y * nx + col] = sum;
              }
            }
            const ox = (mx * c.h + bx) * nx;
            const oy = (my * c.v + by) * ny;
            for (let y = 0; y < ny; y++) {
              const row = (oy + y) * c.stride + ox;
              for (let x = 0; x < nx; x++) {
                let sum = 0;
                for (let u = 0; u < nx; u++) sum += (cosX[x * nx + u] as number) * (tmp[y * nx + u] as number);
                const value = sum / 4 + 128;
                c.plane[row + x] = value < 0 ? 0 : value > 255 ? 255 : value + 0.5;
              }
            }
          }
        }
      }
    }
  }
  return toRgba(comps, Math.ceil((width * n) / 8), Math.ceil((height * n) / 8), hmax * n, vmax * n);
}

/**
 * YCbCr (JFIF, ITU-R BT.601 full range) or grayscale to RGBA. `unitX`/`unitY` are the output
 * samples an MCU column/row gives; a plane with fewer is upsampled by replication.
 */
function toRgba(comps: Component[], width: number, height: number, unitX: number, unitY: number): ScaledImage {
  const pixels = new Uint8Array(width * height * 4);
  const [y0, cb, cr] = comps as [Component, Component | undefined, Component | undefined];
  const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);
  // Where each output column and row falls in each plane, computed once rather than per pixel.
  const columns = comps.map((c) => Int32Array.from({ length: width }, (_, x) => Math.floor((x * c.h * c.nx) / unitX)));
  const rows = comps.map((c) => Int32Array.from({ length: height }, (_, y) => Math.floor((y * c.v * c.ny) / unitY) * c.stride));
  const [yCols, cbCols, crCols] = columns as [Int32Array, Int32Array | undefined, Int32Array | undefined];
  const [yRows, cbRows, crRows] = rows as [Int32Array, Int32Array | undefined, Int32Array | undefined];
  for (let y = 0; y < height; y++) {
    const yRow = yRows[y] as number;
    const cbRow = cbRows?.[y] ?? 0;
    const crRow = crRows?.[y] ?? 0;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      const Y = y0.plane[yRow + (yCols[x] as number)] as number;
      if (!cb || !cr || !cbCols || !crCols) {
        pixels[o] = pixels[o + 1] = pixels[o + 2] = Y;
      } else {
        const Cb = (cb.plane[cbRow + (cbCols[x] as number)] as number) - 128;
        const Cr = (cr.plane[crRow + (crCols[x] as number)] as number) - 128;
        pixels[o] = clamp(Y + 1.402 * Cr);
        pixels[o + 1] = clamp(Y - 0.344136 * Cb - 0.714136 * Cr);
        pixels[o + 2] = clamp(Y + 1.772 * Cb);
      }
      pixels[o + 3] = 255;
    }
  }
  return { width, height, pixels };
}
