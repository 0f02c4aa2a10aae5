/**
 * Luma SSIM (Wang et al. 2004: an 11×11 Gaussian window, σ = 1.5, K1 = 0.01, K2 = 0.03, L = 255) of
 * two images of the same size, on BT.601 luma (what JPEG codes at full resolution). Used by the
 * `bytes` bench case and the JPEG reference test to compare encoders at equal quality, each against
 * its own pipeline's lossless resize. Runs in Node.
 */

/** Interleaved 8-bit pixels: 3 (RGB) or 4 (RGBA, alpha ignored) channels. */
export interface Raw {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

const RADIUS = 5;
const SIGMA = 1.5;
const C1 = (0.01 * 255) ** 2;
const C2 = (0.03 * 255) ** 2;

const KERNEL = (() => {
  const k = Array.from({ length: 2 * RADIUS + 1 }, (_, i) => Math.exp(-((i - RADIUS) ** 2) / (2 * SIGMA * SIGMA)));
  const sum = k.reduce((a, b) => a + b, 0);
  return Float64Array.from(k, (v) => v / sum);
})();

export function luma(img: Raw): Float64Array {
  const y = new Float64Array(img.width * img.height);
  for (let i = 0, p = 0; i < y.length; i++, p += img.channels) {
    y[i] = 0.299 * (img.data[p] as number) + 0.587 * (img.data[p + 1] as number) + 0.114 * (img.data[p + 2] as number);
  }
  return y;
}

/** The Gaussian-weighted mean around each pixel whose window fits (a "valid" filter, as the reference code). */
function blur(src: Float64Array, width: number, height: number): Float64Array {
  const w = width - 2 * RADIUS;
  const h = height - 2 * RADIUS;
  const rows = new Float64Array(w * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let k = 0; k <= 2 * RADIUS; k++) s += (KERNEL[k] as number) * (src[y * width + x + k] as number);
      rows[y * w + x] = s;
    }
  }
  const out = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let k = 0; k <= 2 * RADIUS; k++) s += (KERNEL[k] as number) * (rows[(y + k) * w + x] as number);
      out[y * w + x] = s;
    }
  }
  return out;
}

/** Mean SSIM of the luma of `a` and `b` (1 = identical). */
export function lumaSsim(a: Raw, b: Raw): number {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`SSIM of ${a.width}×${a.height} against ${b.width}×${b.height}`);
  const { width, height } = a;
  if (width <= 2 * RADIUS || height <= 2 * RADIUS) throw new Error(`SSIM needs more than ${2 * RADIUS}×${2 * RADIUS} pixels`);
  const x = luma(a);
  const y = luma(b);
  const xx = x.map((v) => v * v);
  const yy = y.map((v) => v * v);
  const xy = x.map((v, i) => v * (y[i] as number));
  const [mx, my, sxx, syy, sxy] = [x, y, xx, yy, xy].map((m) => blur(m, width, height)) as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  let sum = 0;
  for (let i = 0; i < mx.length; i++) {
    const ux = mx[i] as number;
    const uy = my[i] as number;
    const vx = (sxx[i] as number) - ux * ux;
    const vy = (syy[i] as number) - uy * uy;
    const cxy = (sxy[i] as number) - ux * uy;
    sum += ((2 * ux * uy + C1) * (2 * cxy + C2)) / ((ux * ux + uy * uy + C1) * (vx + vy + C2));
  }
  return sum / mx.length;
}
