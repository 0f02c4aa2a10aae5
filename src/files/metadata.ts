import { DOMParser } from '@xmldom/xmldom';
import ExifReader from 'exifreader';
import { readDimensions } from '../images/dimensions';
import { svgDimensions } from '../images/svg-size';
import { isTiff, tiffSizeByRange } from '../images/tiff-ifd';
import { isForbiddenKey } from '../lib/safe-keys';
import { type RangeReader, scrapeMedia } from './media';
import { log } from '../lib/log';

/** Never read more than this for metadata, whatever a file's segments claim. */
export const METADATA_CAP = 2 * 1024 * 1024;

/** What a file says about itself. Explicit values from the uploader win over these. */
export interface ScrapedMetadata {
  width?: number;
  height?: number;
  /** Seconds, for audio and video (Directus's `duration`). */
  duration?: number;
  title?: string;
  description?: string;
  tags?: string[];
  location?: string;
  metadata?: Record<string, unknown>;
}


type Tag = { value?: unknown; description?: unknown };
type Group = Record<string, Tag | Tag[] | undefined>;

/** Audio and video: what music-metadata reads (Ogg is `application/ogg` when it carries no video). */
function isMedia(type: string): boolean {
  return type.startsWith('audio/') || type.startsWith('video/') || type === 'application/ogg';
}

/**
 * Audio and video get their duration (and a video its picture size) from the container, through
 * src/files/media.ts. Images: scrapes an image's dimensions (as displayed: swapped for EXIF orientations 5–8) and its EXIF,
 * IPTC and XMP fields from the first bytes of the file. When the header or a metadata segment runs
 * past `head`, one Range read fetches up to METADATA_CAP bytes: a 200 MB TIFF or a 2 GB video costs
 * a few hundred KB. Malformed metadata is logged and leaves the fields empty; it never fails an upload.
 */
export async function scrapeMetadata(
  head: Uint8Array,
  size: number,
  type: string,
  read: RangeReader,
  allowList: string[] | '*',
): Promise<ScrapedMetadata> {
  if (isMedia(type)) return scrapeMedia(head, size, type, read);
  if (type === 'image/svg+xml') {
    // The size its root element declares (the one it is rendered at); the markup is not parsed here.
    const size = svgDimensions(head);
    return size && 'width' in size ? { width: size.width, height: size.height } : {};
  }
  if (!type.startsWith('image/')) return {};
  let bytes = head;
  const limit = Math.min(size, METADATA_CAP);
  /** Extends `bytes` to cover [0, end) plus some slack (the next segment header), within the cap. */
  const more = async (end: number): Promise<boolean> => {
    const want = Math.min(end + 64 * 1024, limit);
    if (want <= bytes.byteLength) return false;
    bytes = await read(0, want);
    return true;
  };

  let dims = readDimensions(bytes);
  while (dims && 'needBytes' in dims && (await more(dims.needBytes))) dims = readDimensions(bytes);
  if (dims && 'needBytes' in dims && isTiff(bytes)) {
    // A TIFF's directory may sit at the end of a file far larger than the cap: read there alone.
    const found = await tiffSizeByRange(bytes, size, read);
    if (found) dims = { format: 'tiff', ...found };
  }

  let tags: ReturnType<typeof load> | undefined;
  try {
    tags = load(bytes);
    const range = tags.metadataRange;
    if (range && (!range.complete || range.end > bytes.byteLength) && (await more(range.end))) tags = load(bytes);
  } catch (error) {
    log('warn', 'metadata not readable', { type, reason: (error as Error).message });
  }

  const out: ScrapedMetadata = {};
  let width = dims && 'width' in dims ? dims.width : numeric(tags?.exif?.PixelXDimension);
  let height = dims && 'height' in dims ? dims.height : numeric(tags?.exif?.PixelYDimension);
  const orientation = numeric(tags?.exif?.Orientation);
  if (orientation !== undefined && orientation >= 5 && orientation <= 8) [width, height] = [height, width];
  if (width) out.width = width;
  if (height) out.height = height;
  if (!tags) return out;

  const iptc = tags.iptc as Group | undefined;
  const xmp = tags.xmp as Group | undefined;
  const exif = tags.exif as Group | undefined;
  const title = text(iptc?.Headline) ?? text(xmp?.title);
  const description = text(iptc?.['Caption/Abstract']) ?? text(exif?.ImageDescription) ?? text(xmp?.description);
  const keywords = list(iptc?.Keywords) ?? list(xmp?.subject);
  if (title) out.title = title;
  if (description) out.description = description;
  if (keywords) out.tags = keywords;
  const { Latitude, Longitude } = tags.gps ?? {};
  if (typeof Latitude === 'number' && typeof Longitude === 'number' && Number.isFinite(Latitude) && Number.isFinite(Longitude)) {
    out.location = `${+Latitude.toFixed(6)},${+Longitude.toFixed(6)}`;
  }
  const metadata = pick([exif, iptc, xmp], allowList);
  if (Object.keys(metadata).length > 0) out.metadata = metadata;
  return out;
}

function load(bytes: Uint8Array) {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return ExifReader.load(buffer, {
    expanded: true,
    includeOffsets: true,
    domParser: new DOMParser() as never,
    // Multi-picture previews sit megabytes into phone photos; they would pull the range to EOF.
    excludeTags: { mpf: true, thumbnail: true, makerNotes: true },
  });
}

function text(tag: Tag | Tag[] | undefined): string | undefined {
  if (!tag) return undefined;
  const value = Array.isArray(tag) ? tag[0]?.description : tag.description;
  const s = typeof value === 'string' ? value.trim() : undefined;
  return s ? s : undefined;
}

function list(tag: Tag | Tag[] | undefined): string[] | undefined {
  if (!tag) return undefined;
  const items = Array.isArray(tag)
    ? tag.map((t) => t.description)
    : Array.isArray(tag.value)
      ? (tag.value as Tag[]).map((t) => t.description)
      : String(tag.description ?? '').split(',');
  const out = items.map((d) => String(d ?? '').trim()).filter((d) => d !== '');
  return out.length > 0 ? out : undefined;
}

function numeric(tag: Tag | Tag[] | undefined): number | undefined {
  const value = Array.isArray(tag) ? tag[0]?.value : tag?.value;
  const n = Array.isArray(value) ? value[0] : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

/** Allow-listed tags as `{ name: readable value }`; `*` keeps every readable one (binary skipped). */
function pick(groups: (Group | undefined)[], allowList: string[] | '*'): Record<string, unknown> {
  // Tag names come from the file (XMP names are free-form): the prototype's names are skipped, so
  // a hostile file cannot reach the object's prototype.
  const out: Record<string, unknown> = {};
  for (const group of groups) {
    for (const [name, tag] of Object.entries(group ?? {})) {
      if (isForbiddenKey(name) || Object.hasOwn(out, name) || (allowList !== '*' && !allowList.includes(name))) continue;
      const value = readable(tag);
      if (value !== undefined) out[name] = value;
    }
  }
  return out;
}

function readable(tag: Tag | Tag[] | undefined): unknown {
  if (!tag) return undefined;
  if (Array.isArray(tag)) {
    const values = tag.map((t) => readable(t)).filter((v) => v !== undefined);
    return values.length > 0 ? values : undefined;
  }
  const { value, description } = tag;
  if (typeof value === 'number' || (Array.isArray(value) && value.length === 1 && typeof value[0] === 'number' && typeof description === 'string' && /^\d+$/.test(description))) {
    return typeof value === 'number' ? value : Number(description);
  }
  if (typeof description === 'string' && description.length > 0 && description.length <= 1000 && !/[\u0000-\u0008]/.test(description)) return description;
  return undefined;
}
