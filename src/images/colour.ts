/**
 * sRGB, linear light and CIE Lab (D65), as libvips converts them for sharp's colour operations.
 * Tables in Float32 (what 8-bit channels need): the per-pixel work is lookups, three cube roots one
 * way and three cubes the other, never a `pow` per channel.
 */

/** sRGB (0–255) to linear light. */
export const LINEAR = Float32Array.from({ length: 256 }, (_, i) => {
  const c = i / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
});

const STEPS = 4096;
/** Linear light (0–1, in STEPS steps) to sRGB (0–255), read between its steps (off by < 0.005 of a level). */
const ENCODED = Float32Array.from({ length: STEPS + 2 }, (_, i) => {
  const v = Math.min(1, i / STEPS);
  return 255 * (v <= 0.0031308 ? 12.92 * v : 1.055 * v ** (1 / 2.4) - 0.055);
});

/** Linear light to sRGB (0–255); out-of-gamut values are clamped. */
export function toSrgb(v: number): number {
  if (v <= 0) return 0;
  if (v >= 1) return 255;
  const x = v * STEPS;
  const i = x | 0;
  const lo = ENCODED[i] as number;
  return lo + ((ENCODED[i + 1] as number) - lo) * (x - i);
}

/** The grey level libvips makes of an sRGB colour: the luminance of its linear light, encoded again. */
export const grey = (r: number, g: number, b: number): number =>
  toSrgb(0.2126 * (LINEAR[r] as number) + 0.7152 * (LINEAR[g] as number) + 0.0722 * (LINEAR[b] as number));

const WHITE_X = 0.95047;
const WHITE_Z = 1.08883;
const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
const fInverse = (t: number) => (t * t * t > 216 / 24389 ? t * t * t : (116 * t - 16) / (24389 / 27));

/** The Lab lightness (0–100) of an sRGB colour (channels 0–255, whole numbers). */
export function lightnessOf(r: number, g: number, b: number): number {
  return 116 * f(0.2126 * (LINEAR[r] as number) + 0.7152 * (LINEAR[g] as number) + 0.0722 * (LINEAR[b] as number)) - 16;
}

/** An sRGB colour (channels 0–255, whole numbers) in Lab, written to `out` [L, a, b]. */
export function toLab(r: number, g: number, b: number, out: Float32Array | number[]): void {
  const lr = LINEAR[r] as number;
  const lg = LINEAR[g] as number;
  const lb = LINEAR[b] as number;
  const x = f((0.4124 * lr + 0.3576 * lg + 0.1805 * lb) / WHITE_X);
  const y = f(0.2126 * lr + 0.7152 * lg + 0.0722 * lb);
  const z = f((0.0193 * lr + 0.1192 * lg + 0.9505 * lb) / WHITE_Z);
  out[0] = 116 * y - 16;
  out[1] = 500 * (x - y);
  out[2] = 200 * (y - z);
}

/** A Lab colour in sRGB, written as clamped whole channels to `px` at `i` (alpha untouched). */
export function writeLab(l: number, a: number, b: number, px: Uint8Array, i: number): void {
  const fy = (l + 16) / 116;
  const x = WHITE_X * fInverse(fy + a / 500);
  const y = fInverse(fy);
  const z = WHITE_Z * fInverse(fy - b / 200);
  px[i] = Math.round(toSrgb(3.2406 * x - 1.5372 * y - 0.4986 * z));
  px[i + 1] = Math.round(toSrgb(-0.9689 * x + 1.8758 * y + 0.0415 * z));
  px[i + 2] = Math.round(toSrgb(0.0557 * x - 0.204 * y + 1.057 * z));
}
