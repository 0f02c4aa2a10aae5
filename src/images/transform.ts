import type { AssetPreset } from '../db/schema';
import type { AssetSettings } from '../db/settings-repository';
import { AppError } from '../errors/app-error';

export type Fit = 'cover' | 'contain' | 'inside' | 'outside';
export type OutputFormat = 'jpg' | 'png' | 'webp';

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
}

/** Query parameters that ask for a transform (Directus names and Directus 8 aliases). */
const TRANSFORM_PARAMS = ['key', 'width', 'height', 'fit', 'quality', 'format', 'withoutEnlargement', 'focal_point_x', 'focal_point_y', 'w', 'h', 'f', 'q'];

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
  if (raw === 'png' || raw === 'webp' || raw === 'auto') return raw;
  throw invalid(`"format" must be jpg, jpeg, png, webp or auto; got "${raw}".`);
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
  /** The request's Accept header, for `format=auto`. */
  accept: string | null;
  /** The source's type, for `format=auto` (a JPEG never has alpha). */
  sourceType: string;
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
  if (mode === 'none') {
    throw new AppError('ILLEGAL_ASSET_TRANSFORMATION', 'Image transformations are turned off for this project (storage_asset_transform = none).');
  }
  if (mode === 'presets' && explicit.length > 0) {
    throw new AppError('ILLEGAL_ASSET_TRANSFORMATION', `Only presets may be used here (storage_asset_transform = presets); remove ${explicit.join(', ')} and use ?key=.`);
  }
  let preset: AssetPreset | undefined;
  const key = params.get('key');
  if (key !== null) {
    preset = ctx.settings.storage_asset_presets.find((p) => p.key === key);
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
  const auto = requested === 'auto';
  return {
    width,
    height,
    fit,
    quality,
    format: auto ? autoFormat(ctx.accept, ctx.sourceType) : requested,
    auto,
    withoutEnlargement,
    focalPointX,
    focalPointY,
  };
}

/**
 * `format=auto`: photon's WebP encoder is lossless only, several times larger than JPEG for photos,
 * so auto never picks it for an opaque source (JPEG) and answers JPEG. Sources that may carry alpha
 * (PNG, WebP, GIF) get WebP when the client accepts it (lossless WebP is smaller than PNG), else PNG.
 */
export function autoFormat(accept: string | null, sourceType: string): OutputFormat {
  if (sourceType === 'image/jpeg') return 'jpg';
  return acceptsWebp(accept) ? 'webp' : 'png';
}

function acceptsWebp(accept: string | null): boolean {
  return accept !== null && /(^|,)\s*image\/webp\s*(;|,|$)/i.test(accept);
}

/**
 * What a request asks for, as an edge-cache variant, known before its file's record is read: the
 * transform parameters as sent (sorted), the whitelist's version (a settings change makes new keys,
 * so a variant made under `all` is never served from the cache after a switch to `presets`) and
 * whether Accept takes WebP (what `format=auto` turns on). `original` for no transform at all.
 */
export function requestVariant(params: URLSearchParams, settingsVersion: string, accept: string | null): string {
  if (!wantsTransform(params)) return 'original';
  const sent = TRANSFORM_PARAMS.filter((p) => params.has(p)).map((p) => `${p}=${params.get(p)}`);
  return `${sent.sort().join('&')}|s=${settingsVersion}|webp=${acceptsWebp(accept) ? 1 : 0}`;
}

/** The canonical string of a transform: one spelling per result, for cache keys and ETags. */
export function canonical(t: Transform): string {
  const parts = [`w=${t.width ?? ''}`, `h=${t.height ?? ''}`, `fit=${t.fit}`, `q=${t.quality}`, `f=${t.format}`, `we=${t.withoutEnlargement ? 1 : 0}`];
  if (t.fit === 'cover' && t.focalPointX !== undefined && t.focalPointY !== undefined) parts.push(`fx=${t.focalPointX}`, `fy=${t.focalPointY}`);
  return parts.join('&');
}

export const CONTENT_TYPES: Record<OutputFormat, string> = { jpg: 'image/jpeg', png: 'image/png', webp: 'image/webp' };
