import type { AssetPreset } from '../db/schema';
import type { AssetSettings } from '../db/settings-repository';
import { AppError } from '../errors/app-error';
import { plan } from './geometry';
import { checkTransforms, type Operation, parseTransforms } from './operations';

export type Fit = 'cover' | 'contain' | 'inside' | 'outside';
export type OutputFormat = 'jpg' | 'png' | 'webp' | 'avif' | 'tiff';

/**
 * The largest AVIF output, in pixels. libaom's memory grows ~50 bytes a pixel (Node RSS: +87 MB from
 * 1200×800 to 2000×1333, where one encode takes 550 ms) and a WebAssembly memory never shrinks: 1 MP
 * (1200×800 in 230 ms) leaves room in the isolate's 128 MB for the decoders. Past it, `format=avif`
 * is a 400 and `format=auto` picks WebP.
 */
export const AVIF_MAX_PIXELS = 1_000_000;

/** A transform with every default filled and `auto` resolved: what a derivative is made from. */
export interface Transform {
  width: number | undefined;
  height: number | undefined;
  fit: Fit;
  quality: number;
  format: OutputFormat;
  /** `format=auto` was asked for: the answer varies with Accept. */
  auto: boolean;
  withoutEnlargement: boolean;
  focalPointX: number | undefined;
  focalPointY: number | undefined;
  /** Directus `transforms`, checked: geometric ones act before the resize, the others after it. */
  operations: Operation[];
}

/**
 * Directus's system thumbnails, which every whitelist mode allows (the file library page uses them):
 * 64, 300 and 800 pixels, each as a square `cover` crop and as a `contain` fit, format `auto`.
 */
export const SYSTEM_PRESETS: readonly AssetPreset[] = ([['small', 64], ['medium', 300], ['large', 800]] as const).flatMap(([size, px]) => [
  { key: `system-${size}-cover`, fit: 'cover' as const, width: px, height: px, format: 'auto' as const },
  { key: `system-${size}-contain`, fit: 'contain' as const, width: px, format: 'auto' as const },
]);

/** Query parameters that ask for a transform (Directus names and Directus 8 aliases). */
const TRANSFORM_PARAMS = ['key', 'width', 'height', 'fit', 'quality', 'format', 'withoutEnlargement', 'focal_point_x', 'focal_point_y', 'transforms', 'w', 'h', 'f', 'q'];

export const DEFAULT_QUALITY = 80;

const invalid = (message: string) => new AppError('INVALID_QUERY', message);

export function wantsTransform(params: URLSearchParams): boolean {
  return TRANSFORM_PARAMS.some((p) => params.has(p));
}

/** The transform parameters other than `key` (a preset): an ad-hoc transform. */
export function adHocParams(params: URLSearchParams): string[] {
  return TRANSFORM_PARAMS.filter((p) => p !== 'key' && params.has(p));
}

function positive(name: string, raw: string | null, max: number): number | undefined {
  if (raw === null || raw === '') return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) throw invalid(`"${name}" must be a whole number from 1 to ${max}.`);
  return Number(raw);
}

function fitOf(raw: string | null): Fit | undefined {
  if (raw === null || raw === '') return undefined;
  // Directus 8: `crop` is cover; `contain` keeps its Directus 8 meaning (inside, no padding).
  if (raw === 'crop') return 'cover';
  if (raw === 'cover' || raw === 'contain' || raw === 'inside' || raw === 'outside') return raw;
  throw invalid(`"fit" must be cover, contain, inside or outside (or the Directus 8 alias crop); got "${raw}".`);
}

function formatOf(raw: string | null): OutputFormat | 'auto' | undefined {
  if (raw === null || raw === '') return undefined;
  if (raw === 'jpeg' || raw === 'jpg') return 'jpg';
  if (raw === 'png' || raw === 'webp' || raw === 'avif' || raw === 'tiff' || raw === 'auto') return raw;
  throw invalid(`"format" must be jpg, jpeg, png, webp, avif, tiff or auto; got "${raw}".`);
}

function booleanOf(name: string, raw: string | null): boolean | undefined {
  if (raw === null) return undefined;
  if (raw === '' || raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw invalid(`"${name}" must be true or false.`);
}

function coordinate(name: string, raw: string | null): number | undefined {
  if (raw === null || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw invalid(`"${name}" must be a whole number of pixels.`);
  return Number(raw);
}

export interface TransformContext {
  settings: AssetSettings;
  maxDimension: number;
  /** ASSETS_TRANSFORM_MAX_OPERATIONS: the most operations `transforms` may list. */
  maxOperations: number;
  /** The request's Accept header, for `format=auto`. */
  accept: string | null;
  /** The source's type, for `format=auto` (a JPEG never has alpha). */
  sourceType: string;
  /** The source's size from its record (null when unknown), for `format=auto` (AVIF's output cap). */
  sourceWidth: number | null;
  sourceHeight: number | null;
  /** The file record's focal point, the default for cover crops. */
  focalPointX: number | null;
  focalPointY: number | null;
}

/**
 * Turns `/assets` query parameters into a Transform, enforcing the whitelist (Directus settings):
 * `none` allows no transform, `presets` only `key` (403 ILLEGAL_ASSET_TRANSFORMATION otherwise),
 * `all` a preset with explicit overrides. Malformed or out-of-range values are 400 INVALID_QUERY
 * naming the parameter and the range.
 */
export function resolveTransform(params: URLSearchParams, ctx: TransformContext): Transform {
  const mode = ctx.settings.storage_asset_transform;
  const explicit = adHocParams(params);
  const key = params.get('key');
  const system = SYSTEM_PRESETS.find((p) => p.key === key);
  if (mode === 'none' && !(system && explicit.length === 0)) {
    throw new AppError('ILLEGAL_ASSET_TRANSFORMATION', 'Image transformations are turned off for this project (storage_asset_transform = none).');
  }
  if (mode === 'presets' && explicit.length > 0) {
    throw new AppError('ILLEGAL_ASSET_TRANSFORMATION', `Only presets may be used here (storage_asset_transform = presets); remove ${explicit.join(', ')} and use ?key=.`);
  }
  let preset: AssetPreset | undefined;
  if (key !== null) {
    preset = system ?? ctx.settings.storage_asset_presets.find((p) => p.key === key);
    if (!preset) throw invalid(`Unknown preset "${key}".`);
  }
  const max = ctx.maxDimension;
  const pick = (name: string, alias?: string) => params.get(name) ?? (alias ? params.get(alias) : null);
  const width = positive('width', pick('width', 'w'), max) ?? preset?.width;
  const height = positive('height', pick('height', 'h'), max) ?? preset?.height;
  const fit = fitOf(pick('fit', 'f')) ?? preset?.fit ?? 'cover';
  const quality = positive('quality', pick('quality', 'q'), 100) ?? preset?.quality ?? DEFAULT_QUALITY;
  const requested = formatOf(params.get('format')) ?? (preset?.format === 'jpeg' ? 'jpg' : preset?.format) ?? 'auto';
  const withoutEnlargement = booleanOf('withoutEnlargement', params.get('withoutEnlargement')) ?? preset?.withoutEnlargement ?? false;
  const focalPointX = coordinate('focal_point_x', params.get('focal_point_x')) ?? ctx.focalPointX ?? undefined;
  const focalPointY = coordinate('focal_point_y', params.get('focal_point_y')) ?? ctx.focalPointY ?? undefined;
  const raw = params.get('transforms');
  const operations = raw !== null ? parseTransforms(raw, ctx.maxOperations) : checkTransforms(preset?.transforms ?? [], Number.MAX_SAFE_INTEGER, invalid);
  const auto = requested === 'auto';
  const t: Transform = { width, height, fit, quality, format: auto ? 'jpg' : requested, auto, withoutEnlargement, focalPointX, focalPointY, operations };
  if (auto) {
    // The record's size is the stored one: an EXIF or requested quarter turn swaps the sides the
    // size applies to, so the larger of both readings is what must fit AVIF's cap.
    const sw = ctx.sourceWidth;
    const sh = ctx.sourceHeight;
    const pixels = (w: number, h: number) => {
      const out = plan(w, h, t);
      return (out.crop ?? out).width * (out.crop ?? out).height;
    };
    t.format = autoFormat(ctx.accept, ctx.sourceType, sw && sh ? Math.max(pixels(sw, sh), pixels(sh, sw)) : undefined);
  }
  return t;
}

/**
 * `format=auto`: AVIF when the client takes it and the output is within AVIF_MAX_PIXELS (known from
 * the record's size; an unknown size never gets AVIF), else WebP when the client takes it, else JPEG
 * — PNG for sources that may carry alpha (PNG, WebP, GIF, AVIF), so transparency is not flattened.
 */
export function autoFormat(accept: string | null, sourceType: string, outputPixels: number | undefined): OutputFormat {
  if (accepts(accept, 'image/avif') && outputPixels !== undefined && outputPixels <= AVIF_MAX_PIXELS) return 'avif';
  if (accepts(accept, 'image/webp')) return 'webp';
  return sourceType === 'image/jpeg' ? 'jpg' : 'png';
}

function accepts(accept: string | null, type: string): boolean {
  return accept !== null && new RegExp(`(^|,)\\s*${type.replace('/', '\\/')}\\s*(;|,|$)`, 'i').test(accept);
}

/**
 * What a request asks for, as an edge-cache variant, known before its file's record is read: the
 * transform parameters as sent (sorted), the whitelist's version (a settings change makes new keys,
 * so a variant made under `all` is never served from the cache after a switch to `presets`) and
 * whether Accept takes WebP and AVIF (what `format=auto` turns on), and the encoders' versions (the
 * format is not known yet). `original` for no transform at all.
 */
export function requestVariant(params: URLSearchParams, settingsVersion: string, accept: string | null): string {
  if (!wantsTransform(params)) return 'original';
  const sent = TRANSFORM_PARAMS.filter((p) => params.has(p)).map((p) => `${p}=${params.get(p)}`);
  const encoders = Object.entries(ENCODER_VERSIONS).map(([f, v]) => `${f}${v}`).join(',');
  return `${sent.sort().join('&')}|s=${settingsVersion}|webp=${accepts(accept, 'image/webp') ? 1 : 0}|avif=${accepts(accept, 'image/avif') ? 1 : 0}|enc=${encoders}`;
}

/**
 * The version of the encoder that makes each format, in every derivative's key and ETag and in the
 * edge cache's variant: a new encoder makes new keys, so what the old one made (in `generated/`, at
 * the edge, in browsers holding its ETag) is never served or confirmed as the new one's bytes.
 * jpg 2: MozJPEG (1 was photon's encoder). A format without an entry is at version 1.
 */
export const ENCODER_VERSIONS: Partial<Record<OutputFormat, number>> = { jpg: 2 };

/** The canonical string of a transform: one spelling per result, for cache keys and ETags. */
export function canonical(t: Transform): string {
  const parts = [`w=${t.width ?? ''}`, `h=${t.height ?? ''}`, `fit=${t.fit}`, `q=${t.quality}`, `f=${t.format}`, `we=${t.withoutEnlargement ? 1 : 0}`];
  const encoder = ENCODER_VERSIONS[t.format];
  if (encoder !== undefined) parts.push(`enc=${encoder}`);
  if (t.fit === 'cover' && t.focalPointX !== undefined && t.focalPointY !== undefined) parts.push(`fx=${t.focalPointX}`, `fy=${t.focalPointY}`);
  if (t.operations.length > 0) parts.push(`ops=${JSON.stringify(t.operations)}`);
  return parts.join('&');
}

export const CONTENT_TYPES: Record<OutputFormat, string> = { jpg: 'image/jpeg', png: 'image/png', webp: 'image/webp', avif: 'image/avif', tiff: 'image/tiff' };
