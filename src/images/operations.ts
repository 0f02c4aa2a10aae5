import { AppError } from '../errors/app-error';
import { parseJson } from '../lib/safe-keys';
import { grey, lightnessOf, toLab, writeLab } from './colour';

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
 * What an operation costs on each pixel it acts on, as measured (Node 20, 1 MP, after each was made
 * to work in Float32 or integers): `passes` in units of one plain per-pixel pass (~20 ms a
 * megapixel), `bytes` of working buffers besides the pixels themselves. A blur is three box passes a
 * direction whatever its sigma; a sharpen with a sigma pays a Gaussian whose width grows with it.
 */
export function operationCost(o: Operation): { passes: number; bytes: number } {
  switch (o.op) {
    case 'blur':
      return { passes: 8, bytes: 4 };
    case 'sharpen':
      if (o.sigma === undefined) return { passes: 2, bytes: 4 };
      return { passes: 9 + Math.floor(gaussianRadius(o.sigma) / 4), bytes: 12 };
    case 'grayscale':
    case 'tint':
      return { passes: 2, bytes: 0 };
    case 'negate':
      return { passes: 1, bytes: 0 };
    case 'modulate':
      return { passes: 7, bytes: 0 };
    default:
      return { passes: 0, bytes: 0 }; // geometric: folded into the orientation
  }
}

/**
 * The operations that act on the resized image (blur, sharpen, grayscale, negate, tint, modulate),
 * in their order, on RGBA pixels in place. Every loop is bounded by the image's size (the blur is
 * three box passes a direction whatever its sigma); `operationCost` says how much each costs.
 */
export function applyPixelOperations(px: Uint8Array, width: number, height: number, operations: readonly Operation[]): void {
  const lab = new Float32Array(3);
  for (const o of operations) {
    switch (o.op) {
      case 'blur':
        blur(px, width, height, o.sigma ?? 0.8);
        break;
      case 'sharpen':
        if (o.sigma === undefined) mildSharpen(px, width, height);
        else unsharpMask(px, width, height, o.sigma);
        break;
      case 'grayscale':
        for (let i = 0; i < px.length; i += 4) px[i] = px[i + 1] = px[i + 2] = Math.round(grey(px[i] as number, px[i + 1] as number, px[i + 2] as number));
        break;
      case 'negate':
        for (let i = 0; i < px.length; i += 4) {
          px[i] = 255 - (px[i] as number);
          px[i + 1] = 255 - (px[i + 1] as number);
          px[i + 2] = 255 - (px[i + 2] as number);
        }
        // sharp negates the alpha channel too (unless told not to), where the image has one.
        if (o.alpha && !opaque(px)) for (let i = 3; i < px.length; i += 4) px[i] = 255 - (px[i] as number);
        break;
      case 'tint': {
        // As libvips does for sharp: the grey level, through a table that gives each lightness the
        // tint's a and b, weighted 1 − 4(L − ½)² so black stays black and white stays white.
        toLab(Math.round(o.rgb[0]), Math.round(o.rgb[1]), Math.round(o.rgb[2]), lab);
        const [ta, tb] = [lab[1] as number, lab[2] as number];
        const table = new Uint8Array(256 * 4);
        for (let g = 0; g < 256; g++) {
          const l = lightnessOf(g, g, g);
          const w = 1 - 4 * (l / 100 - 0.5) ** 2;
          writeLab(l, ta * w, tb * w, table, g * 4);
        }
        for (let i = 0; i < px.length; i += 4) {
          const g = Math.round(grey(px[i] as number, px[i + 1] as number, px[i + 2] as number)) * 4;
          px[i] = table[g] as number;
          px[i + 1] = table[g + 1] as number;
          px[i + 2] = table[g + 2] as number;
        }
        break;
      }
      case 'modulate': {
        // As sharp does in LCh: lightness × brightness + lightness, chroma × saturation, hue turned.
        const turn = (o.hue * Math.PI) / 180;
        const [cos, sin] = [Math.cos(turn) * o.saturation, Math.sin(turn) * o.saturation];
        for (let i = 0; i < px.length; i += 4) {
          toLab(px[i] as number, px[i + 1] as number, px[i + 2] as number, lab);
          const a = lab[1] as number;
          const b = lab[2] as number;
          writeLab((lab[0] as number) * o.brightness + o.lightness, a * cos - b * sin, a * sin + b * cos, px, i);
        }
        break;
      }
      default:
        break; // geometric: folded into the orientation
    }
  }
}

function opaque(px: Uint8Array): boolean {
  for (let i = 3; i < px.length; i += 4) if (px[i] !== 255) return false;
  return true;
}

/**
 * A Gaussian of `sigma` approximated by three box blurs a direction (Kovesi's box widths), each a
 * running sum in integers: the cost is the same for any sigma. Rows are read in order both ways
 * (the vertical pass keeps one sum per column), from a copy of the pixels (4 bytes a pixel). Edges
 * repeat their last pixel.
 */
function blur(px: Uint8Array, width: number, height: number, sigma: number): void {
  const n = 3;
  let wide = Math.floor(Math.sqrt((12 * sigma * sigma) / n + 1));
  if (wide % 2 === 0) wide--;
  const narrow = wide + 2;
  const m = Math.round((12 * sigma * sigma - n * wide * wide - 4 * n * wide - 3 * n) / (-4 * wide - 4));
  const stride = width * 4;
  const source = new Uint8Array(px.length);
  const sums = new Int32Array(stride);
  for (let pass = 0; pass < n; pass++) {
    const radius = ((pass < m ? wide : narrow) - 1) / 2;
    if (radius < 1) continue;
    const size = 2 * radius + 1;
    source.set(px);
    for (let y = 0; y < height; y++) {
      const row = y * stride;
      for (let c = 0; c < 4; c++) {
        let sum = windowSum(source, row + c, 4, width, radius);
        for (let x = 0; x < width; x++) {
          px[row + x * 4 + c] = Math.round(sum / size);
          sum += (source[row + Math.min(width - 1, x + radius + 1) * 4 + c] as number) - (source[row + Math.max(0, x - radius) * 4 + c] as number);
        }
      }
    }
    source.set(px);
    for (let j = 0; j < stride; j++) sums[j] = windowSum(source, j, stride, height, radius);
    for (let y = 0; y < height; y++) {
      const row = y * stride;
      const entering = Math.min(height - 1, y + radius + 1) * stride;
      const leaving = Math.max(0, y - radius) * stride;
      for (let j = 0; j < stride; j++) {
        px[row + j] = Math.round((sums[j] as number) / size);
        sums[j] = (sums[j] as number) + (source[entering + j] as number) - (source[leaving + j] as number);
      }
    }
  }
}

/** The sum of the first box (−radius to radius, edges repeated) along `length` samples from `start`, `step` apart: O(min(radius, length)). */
function windowSum(v: Uint8Array, start: number, step: number, length: number, radius: number): number {
  let sum = radius * (v[start] as number) + Math.max(0, radius - length + 1) * (v[start + (length - 1) * step] as number);
  for (let i = 0; i <= Math.min(radius, length - 1); i++) sum += v[start + i * step] as number;
  return sum;
}

const clamp = (v: number) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));

/** sharp's sharpen with no sigma: its mild 3×3 kernel (centre 32, neighbours −1, over 24, truncated as libvips does). */
function mildSharpen(px: Uint8Array, width: number, height: number): void {
  const source = px.slice();
  const stride = width * 4;
  for (let y = 0; y < height; y++) {
    const up = Math.max(0, y - 1) * stride;
    const row = y * stride;
    const down = Math.min(height - 1, y + 1) * stride;
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const l = Math.max(0, x - 1) * 4 + c;
        const h = x * 4 + c;
        const r = Math.min(width - 1, x + 1) * 4 + c;
        const around =
          (source[up + l] as number) + (source[up + h] as number) + (source[up + r] as number) +
          (source[row + l] as number) + (source[row + r] as number) +
          (source[down + l] as number) + (source[down + h] as number) + (source[down + r] as number);
        px[row + h] = clamp(Math.floor((32 * (source[row + h] as number) - around) / 24));
      }
    }
  }
}

/**
 * sharp's sharpen with a sigma: libvips's unsharp mask on the lightness alone, L against L blurred
 * by a Gaussian of that sigma, the difference mapped by sharp's defaults — slope 1 within ±2 of L
 * ("flat"), 2 beyond ("jagged"), at most +10 / −20. Three Float32 planes (12 bytes a pixel); a
 * pixel whose lightness does not move keeps its colour untouched.
 */
function unsharpMask(px: Uint8Array, width: number, height: number, sigma: number): void {
  const n = width * height;
  const lightness = new Float32Array(n);
  for (let i = 0; i < n; i++) lightness[i] = lightnessOf(px[i * 4] as number, px[i * 4 + 1] as number, px[i * 4 + 2] as number);
  const blurred = gaussian(lightness, width, height, sigma);
  const [flat, jagged, threshold, brightest, darkest] = [1, 2, 2, 10, 20];
  const lab = new Float32Array(3);
  for (let i = 0; i < n; i++) {
    const l0 = lightness[i] as number;
    const d = l0 - (blurred[i] as number);
    const y = d < -threshold ? (d + threshold) * jagged - threshold * flat : d < threshold ? d * flat : (d - threshold) * jagged + threshold * flat;
    const l = Math.min(100, Math.max(0, l0 + Math.min(brightest, Math.max(-darkest, y))));
    if (l === l0) continue;
    toLab(px[i * 4] as number, px[i * 4 + 1] as number, px[i * 4 + 2] as number, lab);
    writeLab(l, lab[1] as number, lab[2] as number, px, i * 4);
  }
}

/** Where libvips cuts a Gaussian of `sigma`: where it falls under a tenth of its peak. */
const gaussianRadius = (sigma: number) => Math.max(0, Math.floor(sigma * Math.sqrt(2 * Math.log(10))));

/** A separable Gaussian of `sigma` over one plane, edges repeated; rows are read in order both ways. */
function gaussian(values: Float32Array, width: number, height: number, sigma: number): Float32Array {
  const radius = gaussianRadius(sigma);
  const kernel = Float32Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const total = kernel.reduce((a, b) => a + b, 0);
  for (let k = 0; k < kernel.length; k++) kernel[k] = (kernel[k] as number) / total;
  const across = new Float32Array(values.length);
  const padded = new Float32Array(width + 2 * radius);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = -radius; x < width + radius; x++) padded[x + radius] = values[row + Math.min(width - 1, Math.max(0, x))] as number;
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let k = 0; k < kernel.length; k++) sum += (padded[x + k] as number) * (kernel[k] as number);
      across[row + x] = sum;
    }
  }
  const out = new Float32Array(values.length);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let k = 0; k < kernel.length; k++) {
      const from = Math.min(height - 1, Math.max(0, y + k - radius)) * width;
      const weight = kernel[k] as number;
      for (let x = 0; x < width; x++) out[row + x] = (out[row + x] as number) + (across[from + x] as number) * weight;
    }
  }
  return out;
}
