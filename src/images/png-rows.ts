/**
 * Where a PNG's unfiltered rows go (./png.ts decodes them): the Adam7 passes, and the sinks that keep
 * a region's pixels or average them into a smaller image as the rows come.
 */

import type { PngHeader, PngReduction } from './png.ts';

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

/** The passes of an image (one when it is not interlaced), each with its size in pixels. */
export function passesOf(header: PngHeader) {
  const { width, height } = header;
  return (header.interlace ? ADAM7 : ([[0, 0, 1, 1]] as const)).map(([x0, y0, dx, dy]) => ({ x0, y0, dx, dy, w: Math.ceil((width - x0) / dx), h: Math.ceil((height - y0) / dy) }));
}

export interface RowSink {
  /** One row of pass `pass` (0 when not interlaced), `y` within the pass, as RGBA of `w` pixels. */
  row(pass: number, y: number, line: Uint8Array, w: number): void;
  /** Whether row `y` of `pass` lands in the kept region (others are unfiltered but not expanded). */
  wants(pass: number, y: number): boolean;
  result(): Uint8Array;
}

/**
 * Where each pass's pixels land in the output (-1: outside the kept region). Columns are a table
 * (looked up for every pixel; its bytes are counted by pngRowStateBytes); rows are computed as they
 * come, so nothing is sized by the height.
 */
class OutputMap {
  private readonly xs: Int32Array[];
  private readonly passes;

  constructor(header: PngHeader, private readonly r: PngReduction) {
    this.passes = passesOf(header);
    this.xs = this.passes.map((pass) => {
      const xs = new Int32Array(Math.max(0, pass.w));
      for (let i = 0; i < xs.length; i++) xs[i] = land(pass.x0 + i * pass.dx, r.left, r.width, r.outWidth);
      return xs;
    });
  }

  columns(pass: number): Int32Array {
    return this.xs[pass] as Int32Array;
  }

  row(pass: number, y: number): number {
    const p = this.passes[pass];
    return p ? land(p.y0 + y * p.dy, this.r.top, this.r.height, this.r.outHeight) : -1;
  }
}

/** The output index of source position `n`, for a region of `size` from `start` reduced to `out`. */
function land(n: number, start: number, size: number, out: number): number {
  const i = n - start;
  return i < 0 || i >= size ? -1 : Math.floor((i * out) / size);
}

/** How many of `size` source positions land in output position `k` of `n` (the inverse of `land`). */
const landing = (k: number, n: number, size: number) => Math.ceil(((k + 1) * size) / n) - Math.ceil((k * size) / n);

/** Keeps the region's pixels as they are. */
export class Copy implements RowSink {
  private readonly out: Uint8Array;
  private readonly out32: Uint32Array;
  private readonly map: OutputMap;

  constructor(header: PngHeader, private readonly r: PngReduction) {
    this.out = new Uint8Array(r.outWidth * r.outHeight * 4);
    this.out32 = new Uint32Array(this.out.buffer);
    this.map = new OutputMap(header, r);
  }

  wants(pass: number, y: number): boolean {
    return this.map.row(pass, y) >= 0;
  }

  row(pass: number, y: number, line: Uint8Array, w: number): void {
    const xs = this.map.columns(pass);
    const base = this.map.row(pass, y) * this.r.outWidth;
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
 * by alpha; sums are float64, exact for any count a 2^53-sample image could give. A row's
 * consecutive pixels that land in one output pixel are summed in locals first: one store per output
 * pixel, not per source pixel.
 */
export class Average implements RowSink {
  private readonly sums: Float64Array;
  private readonly map: OutputMap;

  constructor(header: PngHeader, private readonly r: PngReduction, private readonly alpha: boolean) {
    this.sums = new Float64Array(r.outWidth * r.outHeight * 4);
    this.map = new OutputMap(header, r);
  }

  wants(pass: number, y: number): boolean {
    return this.map.row(pass, y) >= 0;
  }

  row(pass: number, y: number, line: Uint8Array, w: number): void {
    const xs = this.map.columns(pass);
    const s = this.sums;
    const base = this.map.row(pass, y) * this.r.outWidth * 4;
    const alpha = this.alpha;
    let c = xs[0] as number;
    let r = 0;
    let g = 0;
    let b = 0;
    let a = 0;
    for (let x = 0; x <= w; x++) {
      const k = x < w ? (xs[x] as number) : -2;
      if (k !== c) {
        if (c >= 0) {
          const o = base + c * 4;
          s[o] = (s[o] as number) + r;
          s[o + 1] = (s[o + 1] as number) + g;
          s[o + 2] = (s[o + 2] as number) + b;
          s[o + 3] = (s[o + 3] as number) + a;
        }
        c = k;
        r = g = b = a = 0;
      }
      if (k < 0) continue;
      const i = x * 4;
      const weight = alpha ? (line[i + 3] as number) : 1;
      r += (line[i] as number) * weight;
      g += (line[i + 1] as number) * weight;
      b += (line[i + 2] as number) * weight;
      a += weight;
    }
  }

  result(): Uint8Array {
    const { outWidth, outHeight, width, height } = this.r;
    const out = new Uint8Array(outWidth * outHeight * 4);
    const s = this.sums;
    for (let cy = 0; cy < outHeight; cy++) {
      const rows = landing(cy, outHeight, height);
      for (let cx = 0; cx < outWidth; cx++) {
        const o = (cy * outWidth + cx) * 4;
        const n = landing(cx, outWidth, width) * rows;
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
