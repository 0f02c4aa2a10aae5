import { AppError } from '../errors/app-error';
import { parseJson } from '../lib/safe-keys';

/**
 * Directus's `transforms`: a JSON array of `[operation, ...arguments]`, with sharp's meaning and its
 * fixed pipeline order: the geometric operations (rotate, flip, flop) act on the image before it is
 * resized, so `width`/`height` describe the turned image; the others act on the resized image, in the
 * order given. Only operations done well here are accepted; any other is a 400 naming it, never
 * silently ignored.
 */
export type Operation =
  | { op: 'rotate'; quarterTurns: 1 | 2 | 3 }
  | { op: 'flip' }
  | { op: 'flop' }
  | { op: 'blur'; sigma: number | undefined }
  | { op: 'sharpen'; sigma: number | undefined }
  | { op: 'grayscale' }
  | { op: 'negate'; alpha: boolean }
  | { op: 'tint'; rgb: [number, number, number] }
  | { op: 'modulate'; brightness: number; saturation: number; hue: number; lightness: number };

const invalid = (message: string) => new AppError('INVALID_QUERY', message);

/** The `transforms` query parameter, parsed and checked (at most `max` operations, as Directus's ASSETS_TRANSFORM_MAX_OPERATIONS). */
export function parseTransforms(raw: string, max: number): Operation[] {
  const value = parseJson(raw, 'INVALID_QUERY', '"transforms"', '"transforms" must be a JSON array of [operation, ...arguments], e.g. [["blur",10]].');
  return checkTransforms(value, max, (message) => invalid(message));
}

/** Checks a `transforms` value (from the query or a preset); `fail` makes the error of the caller's kind. */
export function checkTransforms(value: unknown, max: number, fail: (message: string) => AppError): Operation[] {
  if (!Array.isArray(value)) throw fail('"transforms" must be a JSON array of [operation, ...arguments], e.g. [["blur",10]].');
  if (value.length > max) throw fail(`"transforms" has ${value.length} operations; at most ${max} are allowed (ASSETS_TRANSFORM_MAX_OPERATIONS).`);
  return value.flatMap((step, i) => {
    if (!Array.isArray(step) || typeof step[0] !== 'string') throw fail(`"transforms"[${i}] must be an array starting with an operation's name, e.g. ["blur",10].`);
    const [name, ...args] = step as [string, ...unknown[]];
    const operation = Object.hasOwn(OPERATIONS, name) ? OPERATIONS[name] : undefined;
    if (!operation) {
      throw fail(`"transforms"[${i}]: operation "${name}" is not supported; supported: ${Object.keys(OPERATIONS).join(', ')}.`);
    }
    try {
      // An operation turned off (`["flip", false]`, `["rotate", 0]`) is no operation.
      return operation(args) ?? [];
    } catch (error) {
      throw fail(`"transforms"[${i}] ${name}: ${(error as Error).message}`);
    }
  });
}

const numberIn = (v: unknown, min: number, max: number, what: string): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new Error(`${what} must be a number from ${min} to ${max}.`);
  return v;
};
const noMore = (args: unknown[], n: number, usage: string) => {
  if (args.length > n) throw new Error(`takes ${usage}.`);
};
const optionalBoolean = (v: unknown, usage: string): boolean => {
  if (v === undefined || v === true) return true;
  if (v === false) return false;
  throw new Error(`takes ${usage}.`);
};

const OPERATIONS: Record<string, (args: unknown[]) => Operation | undefined> = {
  rotate(args) {
    noMore(args, 1, 'an angle, a multiple of 90');
    const angle = numberIn(args[0] ?? 0, -3600, 3600, 'the angle');
    if (angle % 90 !== 0) throw new Error(`only multiples of 90 degrees are supported, got ${angle}.`);
    // sharp turns clockwise for a positive angle.
    const quarterTurns = ((((angle / 90) % 4) + 4) % 4) as 0 | 1 | 2 | 3;
    return quarterTurns === 0 ? undefined : { op: 'rotate', quarterTurns };
  },
  flip: (args) => (optionalBoolean(args[0], 'nothing or true/false') ? { op: 'flip' } : undefined),
  flop: (args) => (optionalBoolean(args[0], 'nothing or true/false') ? { op: 'flop' } : undefined),
  blur(args) {
    noMore(args, 1, 'a sigma from 0.3 to 1000');
    return { op: 'blur', sigma: args[0] === undefined ? undefined : numberIn(args[0], 0.3, 1000, 'sigma') };
  },
  sharpen(args) {
    noMore(args, 1, 'a sigma from 0.000001 to 10, or { sigma }');
    const options = args[0] !== null && typeof args[0] === 'object' ? (args[0] as Record<string, unknown>) : { sigma: args[0] };
    if (Object.keys(options).some((k) => k !== 'sigma')) throw new Error('takes a sigma from 0.000001 to 10, or { sigma }.');
    return { op: 'sharpen', sigma: options.sigma === undefined ? undefined : numberIn(options.sigma, 0.000001, 10, 'sigma') };
  },
  grayscale: (args) => (optionalBoolean(args[0], 'nothing or true/false') ? { op: 'grayscale' } : undefined),
  greyscale: (args) => (optionalBoolean(args[0], 'nothing or true/false') ? { op: 'grayscale' } : undefined),
  negate(args) {
    noMore(args, 1, 'nothing or { alpha: true/false }');
    const options = args[0];
    if (options === undefined) return { op: 'negate', alpha: true };
    if (options !== null && typeof options === 'object' && !Array.isArray(options) && Object.keys(options).every((k) => k === 'alpha')) {
      return { op: 'negate', alpha: optionalBoolean((options as { alpha?: unknown }).alpha, 'nothing or { alpha: true/false }') };
    }
    throw new Error('takes nothing or { alpha: true/false }.');
  },
  tint(args) {
    noMore(args, 1, 'a colour: "#rrggbb", "#rgb" or { r, g, b }');
    return { op: 'tint', rgb: colour(args[0]) };
  },
  modulate(args) {
    const o = args[0];
    noMore(args, 1, '{ brightness, saturation, hue, lightness }');
    if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new Error('takes { brightness, saturation, hue, lightness }.');
    const known = ['brightness', 'saturation', 'hue', 'lightness'];
    const unknown = Object.keys(o).find((k) => !known.includes(k));
    if (unknown) throw new Error(`has no option "${unknown}"; options: ${known.join(', ')}.`);
    const m = o as Record<string, unknown>;
    return {
      op: 'modulate',
      brightness: m.brightness === undefined ? 1 : numberIn(m.brightness, 0, 100, 'brightness'),
      saturation: m.saturation === undefined ? 1 : numberIn(m.saturation, 0, 100, 'saturation'),
      hue: m.hue === undefined ? 0 : numberIn(m.hue, -3600, 3600, 'hue'),
      lightness: m.lightness === undefined ? 0 : numberIn(m.lightness, -100, 100, 'lightness'),
    };
  },
};

function colour(v: unknown): [number, number, number] {
  if (typeof v === 'string') {
    const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(v)?.[1];
    if (hex) {
      const full = hex.length === 3 ? [...hex].map((c) => c + c).join('') : hex;
      return [0, 2, 4].map((i) => Number.parseInt(full.slice(i, i + 2), 16)) as [number, number, number];
    }
  } else if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const { r, g, b } = v as Record<string, unknown>;
    return [numberIn(r, 0, 255, 'r'), numberIn(g, 0, 255, 'g'), numberIn(b, 0, 255, 'b')];
  }
  throw new Error('takes a colour: "#rrggbb", "#rgb" or { r, g, b }.');
}

type Matrix = readonly [number, number, number, number];

/**
 * The EXIF orientations 1–8 as matrices on centred pixel coordinates (x' = a·x + b·y, y' = c·x + d·y,
 * y down), mapping the stored image to the displayed one: 6 turns a quarter clockwise, 2 mirrors.
 */
const ORIENTATIONS: readonly Matrix[] = [
  [1, 0, 0, 1],
  [-1, 0, 0, 1],
  [-1, 0, 0, -1],
  [1, 0, 0, -1],
  [0, 1, 1, 0],
  [0, -1, 1, 0],
  [0, -1, -1, 0],
  [0, 1, -1, 0],
];
const QUARTER_TURN: Matrix = [0, -1, 1, 0];
const FLIP: Matrix = [1, 0, 0, -1];
const FLOP: Matrix = [-1, 0, 0, 1];

const times = (u: Matrix, e: Matrix): Matrix => [u[0] * e[0] + u[1] * e[2], u[0] * e[1] + u[1] * e[3], u[2] * e[0] + u[3] * e[2], u[2] * e[1] + u[3] * e[3]];

/**
 * The orientation (1–8) that shows the stored image as its EXIF orientation and then the request's
 * geometry would, in sharp's fixed order whatever the list's: flip, flop, then the rotation (the last
 * rotate given, as sharp keeps one; measured against sharp 0.35). The pipeline then turns the pixels
 * once, on the small image.
 */
export function orientationWith(exif: number, operations: readonly Operation[]): number {
  let m = ORIENTATIONS[exif - 1] ?? (ORIENTATIONS[0] as Matrix);
  if (operations.some((o) => o.op === 'flip')) m = times(FLIP, m);
  if (operations.some((o) => o.op === 'flop')) m = times(FLOP, m);
  const rotation = operations.findLast((o) => o.op === 'rotate');
  for (let i = 0; i < (rotation?.op === 'rotate' ? rotation.quarterTurns : 0); i++) m = times(QUARTER_TURN, m);
  return ORIENTATIONS.findIndex((e) => e.every((v, i) => v === m[i])) + 1;
}

/**
 * The operations that act on the resized image (blur, sharpen, grayscale, negate, tint, modulate),
 * in their order, on RGBA pixels in place. Every loop is bounded by the image's size (the blur is
 * three box passes a direction whatever its sigma).
 */
export function applyPixelOperations(px: Uint8Array, width: number, height: number, operations: readonly Operation[]): void {
  for (const o of operations) {
    switch (o.op) {
      case 'blur':
        blur(px, width, height, o.sigma ?? 0.8);
        break;
      case 'sharpen':
        sharpen(px, width, height, o.sigma);
        break;
      case 'grayscale': {
        perPixel(px, (r, g, b) => {
          const y = grey(r, g, b);
          return [y, y, y];
        });
        break;
      }
      case 'negate':
        perPixel(px, (r, g, b) => [255 - r, 255 - g, 255 - b]);
        // sharp negates the alpha channel too (unless told not to), where the image has one.
        if (o.alpha && !opaque(px)) for (let i = 3; i < px.length; i += 4) px[i] = 255 - (px[i] as number);
        break;
      case 'tint': {
        // As libvips does for sharp: the grey level, through a table that gives each lightness the
        // tint's a and b, weighted 1 − 4(L − ½)² so black stays black and white stays white.
        const [, ta, tb] = toLab(...o.rgb);
        const table = Array.from({ length: 256 }, (_, g) => {
          const [l] = toLab(g, g, g);
          const w = 1 - 4 * (l / 100 - 0.5) ** 2;
          return fromLab(l, ta * w, tb * w);
        });
        perPixel(px, (r, g, b) => table[Math.round(grey(r, g, b))] as [number, number, number]);
        break;
      }
      case 'modulate': {
        // As sharp does in LCh: lightness × brightness + lightness, chroma × saturation, hue turned.
        const turn = (o.hue * Math.PI) / 180;
        const [cos, sin] = [Math.cos(turn) * o.saturation, Math.sin(turn) * o.saturation];
        perPixel(px, (r, g, b) => {
          const [l, a, bb] = toLab(r, g, b);
          return fromLab(l * o.brightness + o.lightness, a * cos - bb * sin, a * sin + bb * cos);
        });
        break;
      }
      default:
        break; // geometric: folded into the orientation
    }
  }
}

/** sRGB (0–255) to linear light, by table. */
const LINEAR = Float64Array.from({ length: 256 }, (_, i) => {
  const c = i / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
});
const toSrgb = (v: number) => 255 * (v <= 0.0031308 ? 12.92 * v : 1.055 * Math.max(0, v) ** (1 / 2.4) - 0.055);

/** The grey level libvips makes of an sRGB colour: the luminance of its linear light, encoded again. */
const grey = (r: number, g: number, b: number) => toSrgb(0.2126 * (LINEAR[r] as number) + 0.7152 * (LINEAR[g] as number) + 0.0722 * (LINEAR[b] as number));

// CIE Lab (D65), from and to sRGB.
const WHITE = [0.95047, 1, 1.08883] as const;
const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
const fInverse = (t: number) => (t ** 3 > 216 / 24389 ? t ** 3 : (116 * t - 16) / (24389 / 27));

function toLab(r: number, g: number, b: number): [number, number, number] {
  const [lr, lg, lb] = [LINEAR[Math.round(r)] as number, LINEAR[Math.round(g)] as number, LINEAR[Math.round(b)] as number];
  const x = f((0.4124 * lr + 0.3576 * lg + 0.1805 * lb) / WHITE[0]);
  const y = f(0.2126 * lr + 0.7152 * lg + 0.0722 * lb);
  const z = f((0.0193 * lr + 0.1192 * lg + 0.9505 * lb) / WHITE[2]);
  return [116 * y - 16, 500 * (x - y), 200 * (y - z)];
}

function fromLab(l: number, a: number, b: number): [number, number, number] {
  const fy = (l + 16) / 116;
  const x = WHITE[0] * fInverse(fy + a / 500);
  const y = fInverse(fy);
  const z = WHITE[2] * fInverse(fy - b / 200);
  return [toSrgb(3.2406 * x - 1.5372 * y - 0.4986 * z), toSrgb(-0.9689 * x + 1.8758 * y + 0.0415 * z), toSrgb(0.0557 * x - 0.204 * y + 1.057 * z)];
}

function perPixel(px: Uint8Array, f: (r: number, g: number, b: number) => [number, number, number]): void {
  for (let i = 0; i < px.length; i += 4) {
    const [r, g, b] = f(px[i] as number, px[i + 1] as number, px[i + 2] as number);
    px[i] = clamp(r);
    px[i + 1] = clamp(g);
    px[i + 2] = clamp(b);
  }
}

const clamp = (v: number) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));

function opaque(px: Uint8Array): boolean {
  for (let i = 3; i < px.length; i += 4) if (px[i] !== 255) return false;
  return true;
}

/**
 * A Gaussian of `sigma` approximated by three box blurs a direction (Kovesi's box widths), each a
 * running sum: the cost is the same for any sigma. Edges repeat their last pixel.
 */
function blur(px: Uint8Array, width: number, height: number, sigma: number): void {
  const n = 3;
  let wide = Math.floor(Math.sqrt((12 * sigma * sigma) / n + 1));
  if (wide % 2 === 0) wide--;
  const narrow = wide + 2;
  const m = Math.round((12 * sigma * sigma - n * wide * wide - 4 * n * wide - 3 * n) / (-4 * wide - 4));
  const scratch = new Float32Array(Math.max(width, height));
  const line = new Float32Array(Math.max(width, height));
  for (let pass = 0; pass < n; pass++) {
    const radius = ((pass < m ? wide : narrow) - 1) / 2;
    for (let c = 0; c < 4; c++) {
      for (let y = 0; y < height; y++) boxLine(px, y * width * 4 + c, 4, width, radius, line, scratch);
      for (let x = 0; x < width; x++) boxLine(px, x * 4 + c, width * 4, height, radius, line, scratch);
    }
  }
}

/** One box pass of `radius` along `length` samples from `start`, `step` apart. */
function boxLine(px: Uint8Array, start: number, step: number, length: number, radius: number, line: Float32Array, out: Float32Array): void {
  if (radius < 1) return;
  for (let i = 0; i < length; i++) line[i] = px[start + i * step] as number;
  const at = (i: number) => line[i < 0 ? 0 : i >= length ? length - 1 : i] as number;
  let sum = 0;
  for (let i = -radius; i <= radius; i++) sum += at(i);
  const width = 2 * radius + 1;
  for (let i = 0; i < length; i++) {
    out[i] = sum / width;
    sum += at(i + radius + 1) - at(i - radius);
  }
  for (let i = 0; i < length; i++) px[start + i * step] = Math.round(out[i] as number);
}

/**
 * sharp's sharpen. With no sigma, its mild 3×3 kernel (centre 32, neighbours −1, over 24, truncated as
 * libvips does). With a sigma, libvips's unsharp mask on the lightness alone: L against L blurred by a
 * Gaussian of that sigma (cut where it falls under a tenth of its peak), the difference mapped by
 * sharp's defaults — slope 1 within ±2 of L ("flat"), 2 beyond ("jagged"), at most +10 / −20.
 */
function sharpen(px: Uint8Array, width: number, height: number, sigma: number | undefined): void {
  const source = px.slice();
  if (sigma === undefined) {
    const at = (x: number, y: number, c: number) => source[(Math.min(height - 1, Math.max(0, y)) * width + Math.min(width - 1, Math.max(0, x))) * 4 + c] as number;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        for (let c = 0; c < 3; c++) {
          let around = 0;
          for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) if (dx !== 0 || dy !== 0) around += at(x + dx, y + dy, c);
          px[(y * width + x) * 4 + c] = clamp(Math.floor((32 * at(x, y, c) - around) / 24));
        }
      }
    }
    return;
  }
  const n = width * height;
  const lab = new Float64Array(n * 3);
  for (let i = 0; i < n; i++) lab.set(toLab(source[i * 4] as number, source[i * 4 + 1] as number, source[i * 4 + 2] as number), i * 3);
  const lightness = Float64Array.from({ length: n }, (_, i) => lab[i * 3] as number);
  const blurred = gaussian(lightness, width, height, sigma);
  const [flat, jagged, threshold, brightest, darkest] = [1, 2, 2, 10, 20];
  for (let i = 0; i < n; i++) {
    const d = (lightness[i] as number) - (blurred[i] as number);
    const y = d < -threshold ? (d + threshold) * jagged - threshold * flat : d < threshold ? d * flat : (d - threshold) * jagged + threshold * flat;
    const l = Math.min(100, Math.max(0, (lightness[i] as number) + Math.min(brightest, Math.max(-darkest, y))));
    const [r, g, b] = fromLab(l, lab[i * 3 + 1] as number, lab[i * 3 + 2] as number);
    px[i * 4] = clamp(r);
    px[i * 4 + 1] = clamp(g);
    px[i * 4 + 2] = clamp(b);
  }
}

/** A separable Gaussian of `sigma` over one channel, cut where the kernel falls under 10% of its peak. */
function gaussian(values: Float64Array, width: number, height: number, sigma: number): Float64Array {
  const radius = Math.max(0, Math.floor(sigma * Math.sqrt(2 * Math.log(10))));
  const kernel = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const total = kernel.reduce((a, b) => a + b, 0);
  const across = new Float64Array(values.length);
  const out = new Float64Array(values.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let k = -radius; k <= radius; k++) sum += (values[y * width + Math.min(width - 1, Math.max(0, x + k))] as number) * (kernel[k + radius] as number);
      across[y * width + x] = sum / total;
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let k = -radius; k <= radius; k++) sum += (across[Math.min(height - 1, Math.max(0, y + k)) * width + x] as number) * (kernel[k + radius] as number);
      out[y * width + x] = sum / total;
    }
  }
  return out;
}
