import { crop, PhotonImage, resize, SamplingFilter } from '@cf-wasm/photon';
import { AppError } from '../errors/app-error';
import type { Dimensions } from './dimensions';
import { decodeImage, type Pixels } from './decode';
import { decodePng, PngLimitError, pngRowStateBytes } from './png';
import { decodeTiff, TiffError, TiffLimitError, tiffStateBytes } from './tiff';
import { decodeWebp } from './webp';
import { decodeAvif } from './avif';
import { decodedExtent } from './frames';
import { plan } from './geometry';
import { exifOrientation } from './orientation';
import { orient, storedRect } from './orient-pixels';
import { renderSvg } from './svg';
import { encodeImage } from './encode';
import { DEFAULT_MAX_PASSES } from '../config/globals';
import { applyPixelOperations, type Operation, operationCost, orientationWith } from './operations';
import { AVIF_MAX_PIXELS, CONTENT_TYPES, type Transform } from './transform';

export interface Rendered {
  body: Uint8Array;
  contentType: string;
  width: number;
  height: number;
}

const unprocessable = (message: string) => new AppError('UNPROCESSABLE_IMAGE', message);

/**
 * What a decoded pixel costs until the image is encoded, measured: the decoder's RGBA, its copy,
 * photon's image and its resize buffers (~24 bytes). ASSETS_TRANSFORM_MAX_PIXELS × this is the budget.
 */
const BYTES_PER_PIXEL = 24;
/** What the operations' image costs besides their own buffers: its pixels copied out of photon, and back in. */
const OPERATED_BYTES_PER_PIXEL = 8;

/**
 * Checks that the bytes end the way their format ends, so a truncated upload is refused with a
 * message that says so before any decoder spends time on it. (A streamed PNG is checked by its
 * decoder: its image data must inflate to every row.)
 */
function assertComplete(bytes: Uint8Array, header: Dimensions): void {
  const n = bytes.byteLength;
  const tail = bytes.subarray(Math.max(0, n - 1024));
  let ok: boolean;
  switch (header.format) {
    case 'jpeg':
      ok = tail.some((b, i) => b === 0xff && tail[i + 1] === 0xd9);
      break;
    case 'png':
      ok = new TextDecoder('latin1').decode(bytes.subarray(Math.max(0, n - 16))).includes('IEND');
      break;
    case 'gif':
      ok = tail.includes(0x3b);
      break;
    case 'webp':
      ok = n >= 12 && ((bytes[4] ?? 0) | ((bytes[5] ?? 0) << 8) | ((bytes[6] ?? 0) << 16) | ((bytes[7] ?? 0) << 24)) + 8 <= n;
      break;
    default:
      ok = true;
  }
  if (!ok) throw unprocessable(`The ${header.format.toUpperCase()} file is truncated or damaged; it cannot be transformed.`);
}

/**
 * A source too large to hold, read as a stream from its first byte: only PNG, whose decoder keeps
 * one row at a time. `head` is its first bytes (the header and any EXIF are in them).
 */
export interface StreamedSource {
  head: Uint8Array;
  stream: ReadableStream<Uint8Array>;
}

/** The largest PNG source (pixels) a transform reads, as Cloudflare Images allows: ~1–3 s of decoding. */
export const MAX_STREAMED_SOURCE_PIXELS = 100_000_000;

/**
 * The pipeline from a source's bytes (or stream) and their header: refuses a truncated file, reads
 * the EXIF orientation (and folds the request's rotate, flip and flop into it), renders. What `/assets` runs on a miss, and what the decoder fuzz test drives.
 */
export function transformImage(source: Uint8Array | StreamedSource, header: Dimensions, t: Transform, maxPixels: number, maxPasses = DEFAULT_MAX_PASSES): Promise<Rendered> {
  if (source instanceof Uint8Array) assertComplete(source, header);
  else if (header.format !== 'png') throw new Error(`a ${header.format} source cannot be streamed`);
  return render(source, header, shownOrientation(source, t), t, maxPixels, maxPasses);
}

type Rect = { left: number; top: number; width: number; height: number };

/**
 * Where the pixels go (in the displayed orientation), after the checks every engine makes: the
 * output is held in full (resized, oriented, flattened, encoded), so it is bounded like a decode;
 * AVIF has its own cap; the operations' work is bounded by the same pixels (see `assertOperationsFit`).
 */
export function plannedOutput(header: Dimensions, orientation: number, t: Transform, maxPixels: number, maxPasses = DEFAULT_MAX_PASSES) {
  const swapped = orientation >= 5 && orientation <= 8;
  const displayedWidth = swapped ? header.height : header.width;
  const displayedHeight = swapped ? header.width : header.height;
  const p = plan(displayedWidth, displayedHeight, t);
  if (p.width * p.height > maxPixels) {
    throw new AppError(
      'INVALID_QUERY',
      `This transform would make a ${p.width}×${p.height} image of this ${displayedWidth}×${displayedHeight} source; transforms make at most ${maxPixels} pixels (ASSETS_TRANSFORM_MAX_PIXELS). Ask for a smaller size, fit=inside, or withoutEnlargement.`,
    );
  }
  const out = p.crop ?? p;
  if (t.format === 'avif' && out.width * out.height > AVIF_MAX_PIXELS) {
    throw new AppError(
      'INVALID_QUERY',
      `AVIF output is limited to ${AVIF_MAX_PIXELS} pixels (its encoder's memory); this transform makes ${out.width}×${out.height}. Ask for a smaller size or format=webp.`,
    );
  }
  assertOperationsFit(out, t.operations, maxPixels, maxPasses);
  return p;
}

/**
 * The work budget of `transforms`, known before a byte is decoded: each operation acts on the whole
 * output (after the crop), so its CPU is those pixels × its passes (`operationCost`), and the sum
 * may be at most ASSETS_TRANSFORM_MAX_PASSES passes over ASSETS_TRANSFORM_MAX_PIXELS; its working
 * buffers, with the pixels copied out for it, stay within the bytes a pixel a decode is counted at.
 */
function assertOperationsFit(out: { width: number; height: number }, operations: readonly Operation[], maxPixels: number, maxPasses: number): void {
  const costs = operations.map((o) => ({ op: o.op, ...operationCost(o) })).filter((c) => c.passes > 0);
  if (costs.length === 0) return;
  const pixels = out.width * out.height;
  const passes = costs.reduce((sum, c) => sum + c.passes, 0);
  if (pixels * passes > maxPixels * maxPasses) {
    const each = costs.map((c) => `${c.op} ${c.passes}`).join(', ');
    throw new AppError(
      'INVALID_QUERY',
      `"transforms" would cost ${passes} passes over the ${out.width}×${out.height} output (${each}); a transform's operations may cost at most ${maxPasses} passes over ${maxPixels} pixels (ASSETS_TRANSFORM_MAX_PASSES × ASSETS_TRANSFORM_MAX_PIXELS), ${Math.floor((maxPixels * maxPasses) / passes)} output pixels for these. Use fewer or lighter operations (a smaller sharpen sigma), or a smaller size.`,
    );
  }
  const bytes = OPERATED_BYTES_PER_PIXEL + Math.max(...costs.map((c) => c.bytes));
  if (pixels * bytes > maxPixels * BYTES_PER_PIXEL) {
    throw new AppError(
      'INVALID_QUERY',
      `"transforms" would hold ${bytes} bytes a pixel of the ${out.width}×${out.height} output; transforms may hold ${BYTES_PER_PIXEL} bytes a pixel of ${maxPixels} pixels (ASSETS_TRANSFORM_MAX_PIXELS). Ask for a smaller size.`,
    );
  }
}

/** The orientation a source is shown in: its EXIF orientation, then the request's rotate, flip and flop. */
export function shownOrientation(source: Uint8Array | StreamedSource, t: Transform): number {
  return orientationWith(exifOrientation(source instanceof Uint8Array ? source : source.head), t.operations);
}

/**
 * Decodes, cuts a cover crop's kept region, resizes (never stretching), applies the EXIF orientation
 * and encodes. Cropping and resizing happen before orienting, on the stored pixels, so only what is
 * kept is resized and the rotation only touches the small result.
 * Large reductions pre-shrink with a cheap filter to about twice the target (a PNG while it is
 * decoded, by averaging), then finish with Catmull-Rom: close to Lanczos quality without paying a
 * wide kernel over every source pixel. Every PhotonImage is freed, whatever happens.
 */
async function render(source: Uint8Array | StreamedSource, header: Dimensions, orientation: number, t: Transform, maxPixels: number, maxPasses: number): Promise<Rendered> {
  const swapped = orientation >= 5 && orientation <= 8;
  const p = plannedOutput(header, orientation, t, maxPixels, maxPasses);
  const storedTarget = swapped ? { width: p.height, height: p.width } : { width: p.width, height: p.height };
  // The part of the stored image that is kept (at the target's scale): a cover crop's region, else all.
  const kept = p.crop ? storedRect(p.crop, orientation, storedTarget) : { left: 0, top: 0, ...storedTarget };

  // Each step's input is freed as soon as its output exists: what is held is one image and its successor.
  let img: PhotonImage | undefined;
  const next = (made: PhotonImage): PhotonImage => {
    img?.free();
    img = made;
    return made;
  };
  try {
    const reduced = header.format === 'png' ? reducedPng : header.format === 'svg' ? renderSvg : header.format === 'tiff' ? reducedTiff : header.format === 'webp' || header.format === 'avif' ? reducedHeapFrame : decodedKept;
    let current = next(await reduced(source, header, storedTarget, kept, maxPixels));
    if (current.get_width() !== kept.width || current.get_height() !== kept.height) {
      const factor = current.get_width() / kept.width;
      if (factor > 2) current = next(resize(current, kept.width * 2, kept.height * 2, SamplingFilter.Triangle));
      current = next(resize(current, kept.width, kept.height, SamplingFilter.CatmullRom));
    }
    if (orientation > 1 && orientation <= 8) current = next(orient(current, orientation));
    if (t.operations.some((o) => o.op !== 'rotate' && o.op !== 'flip' && o.op !== 'flop')) {
      const raw = current.get_raw_pixels();
      applyPixelOperations(raw, current.get_width(), current.get_height(), t.operations);
      current = next(new PhotonImage(raw, current.get_width(), current.get_height()));
    }
    const flat = t.format === 'jpg' ? flattenOnWhite(current) : undefined;
    if (flat) current = next(flat);
    // Lossless WebP only where the source is lossless and the request asks for it (quality=100).
    const lossless = t.quality === 100 && (header.format === 'png' || header.format === 'gif');
    const body = await encodeImage(current, t.format, t.quality, lossless);
    return { body, contentType: CONTENT_TYPES[t.format], width: current.get_width(), height: current.get_height() };
  } finally {
    (img as PhotonImage | undefined)?.free();
  }
}

/** `kept` (at the target's scale) in the pixels of an image `size` large, at least one pixel. */
function scaledRect(kept: Rect, target: { width: number; height: number }, size: { width: number; height: number }): Rect {
  const fx = size.width / target.width;
  const fy = size.height / target.height;
  const left = Math.min(size.width - 1, Math.round(kept.left * fx));
  const top = Math.min(size.height - 1, Math.round(kept.top * fy));
  const right = Math.max(left + 1, Math.min(size.width, Math.round((kept.left + kept.width) * fx)));
  const bottom = Math.max(top + 1, Math.min(size.height, Math.round((kept.top + kept.height) * fy)));
  return { left, top, width: right - left, height: bottom - top };
}

/**
 * JPEG (at the smallest DCT scale that covers the target), GIF and WebP: decoded whole, then the
 * kept region cut out (and the whole freed at once).
 */
async function decodedKept(source: Uint8Array | StreamedSource, header: Dimensions, target: { width: number; height: number }, kept: Rect, maxPixels: number): Promise<PhotonImage> {
  if (!(source instanceof Uint8Array)) throw new Error('only PNG is decoded from a stream');
  // What a decode allocates: every frame in the file, not only the header that was read first.
  const extent = decodedExtent(source, header);
  const scale = header.format === 'jpeg' ? jpegScale(extent, target) : 8;
  const decodedPixels = Math.ceil((extent.width * scale) / 8) * Math.ceil((extent.height * scale) / 8);
  // A multi-scan JPEG also holds every DCT coefficient while it decodes: counted at the same bytes a pixel.
  assertDecodable(header, decodedPixels + Math.ceil((extent.coefficientBytes ?? 0) / BYTES_PER_PIXEL), maxPixels);
  const decoded = await decodeImage(source, header, extent, scale);
  const img = new PhotonImage(decoded.data, decoded.width, decoded.height);
  if (kept.width === target.width && kept.height === target.height) return img;
  const r = scaledRect(kept, target, decoded);
  try {
    return crop(img, r.left, r.top, r.left + r.width, r.top + r.height);
  } finally {
    img.free();
  }
}

/**
 * WebP and AVIF: the frame reduced, as it leaves its decoder's heap, to the kept region at about
 * twice the target (./heap-frame.ts); the heap is counted in bytes against the same budget, with
 * the reduction's sums (36 bytes an output pixel) beside it. When twice the target does not fit,
 * the target itself.
 */
async function reducedHeapFrame(source: Uint8Array | StreamedSource, header: Dimensions, target: { width: number; height: number }, kept: Rect, maxPixels: number): Promise<PhotonImage> {
  if (!(source instanceof Uint8Array)) throw new Error('only PNG is decoded from a stream');
  const extent = decodedExtent(source, header);
  const region = scaledRect(kept, target, header);
  const budget = maxPixels * BYTES_PER_PIXEL;
  const reduction = (factor: number) => ({ ...region, outWidth: Math.min(region.width, factor * kept.width), outHeight: Math.min(region.height, factor * kept.height) });
  const decode = (r: ReturnType<typeof reduction>) => {
    const held = r.outWidth * r.outHeight * 36;
    return header.format === 'webp' ? decodeWebp(source, header, extent, r, held, budget) : decodeAvif(source, header, r, held, budget);
  };
  let decoded: Pixels;
  try {
    decoded = await decode(reduction(2));
  } catch (error) {
    if (!(error instanceof AppError)) throw new AppError('UNPROCESSABLE_IMAGE', `The ${header.format.toUpperCase()} file could not be decoded.`, { cause: error });
    if (!(error.message.includes('MiB') && kept.width * 2 <= region.width)) throw error;
    decoded = await decode(reduction(1)).catch((e) => {
      throw e instanceof AppError ? e : new AppError('UNPROCESSABLE_IMAGE', `The ${header.format.toUpperCase()} file could not be decoded.`, { cause: e });
    });
  }
  return new PhotonImage(decoded.data, decoded.width, decoded.height);
}

/**
 * PNG: decoded row by row straight into the kept region at about twice the target (or as it is,
 * when that is not much larger), so what is held follows the output, whatever the source's size.
 */
async function reducedPng(source: Uint8Array | StreamedSource, header: Dimensions, target: { width: number; height: number }, kept: Rect, maxPixels: number): Promise<PhotonImage> {
  if (header.width * header.height > MAX_STREAMED_SOURCE_PIXELS) {
    throw unprocessable(`The image is ${header.width}×${header.height}; transforms read PNG sources of at most ${MAX_STREAMED_SOURCE_PIXELS} pixels.`);
  }
  const { region, out, held } = rowReduction(header, target, kept, maxPixels);
  let decoded: Pixels;
  try {
    decoded = await decodePng(source instanceof Uint8Array ? source : source.stream, (h) => {
      if (h.width !== header.width || h.height !== header.height) throw new Error('IHDR differs from the header read');
      // Its rows are held too, sized by the width alone: checked before any is allocated.
      assertDecodable(header, held + Math.ceil(pngRowStateBytes(h) / BYTES_PER_PIXEL), maxPixels);
      return { ...region, outWidth: out.width, outHeight: out.height };
    });
  } catch (error) {
    if (error instanceof AppError) throw error;
    if (error instanceof PngLimitError) throw unprocessable(error.message);
    // Its cause tells a report of bad data from an allocation that failed (see refusalOf).
    throw new AppError('UNPROCESSABLE_IMAGE', 'The PNG file could not be decoded.', { cause: error });
  }
  return new PhotonImage(decoded.data, decoded.width, decoded.height);
}

/** TIFF: decoded a band of strips or tiles at a time into the kept region, as PNG is (./tiff.ts). */
async function reducedTiff(source: Uint8Array | StreamedSource, header: Dimensions, target: { width: number; height: number }, kept: Rect, maxPixels: number): Promise<PhotonImage> {
  if (!(source instanceof Uint8Array)) throw new Error('a TIFF is decoded from its bytes');
  const { region, out, held } = rowReduction(header, target, kept, maxPixels);
  let decoded: Pixels;
  try {
    decoded = await decodeTiff(source, (info) => {
      if (info.width !== header.width || info.height !== header.height) throw new Error('the directory differs from the header read');
      // One band of segments is held too: checked before any is decompressed.
      assertDecodable(header, held + Math.ceil(tiffStateBytes(info) / BYTES_PER_PIXEL), maxPixels);
      return { ...region, outWidth: out.width, outHeight: out.height };
    });
  } catch (error) {
    if (error instanceof AppError) throw error;
    if (error instanceof TiffLimitError) throw unprocessable(error.message);
    if (error instanceof TiffError) throw unprocessable(`The TIFF file cannot be transformed: ${error.message}.`);
    throw new AppError('UNPROCESSABLE_IMAGE', 'The TIFF file could not be decoded.', { cause: error });
  }
  return new PhotonImage(decoded.data, decoded.width, decoded.height);
}

/**
 * For a decoder that reduces as rows come: the source region kept, the size it is reduced to
 * (about twice the target, or as it is when that is not much larger) and the pixels that holds.
 * An averaged pixel costs a float64 sum per channel besides its RGBA: counted as two pixels.
 */
function rowReduction(header: Dimensions, target: { width: number; height: number }, kept: Rect, maxPixels: number) {
  const region = scaledRect(kept, target, header);
  const within = (w: number, h: number) => ({ width: Math.min(region.width, w), height: Math.min(region.height, h) });
  let out = region;
  let held = region.width * region.height;
  if (region.width > 2 * kept.width || region.height > 2 * kept.height || held > maxPixels) {
    out = { ...region, ...within(2 * kept.width, 2 * kept.height) };
    held = 2 * out.width * out.height;
    if (held > maxPixels) {
      out = { ...region, ...within(kept.width, kept.height) };
      held = 2 * out.width * out.height;
    }
  }
  assertDecodable(header, held, maxPixels);
  return { region, out, held };
}

function assertDecodable(header: Dimensions, decoded: number, maxPixels: number): void {
  if (decoded > maxPixels) {
    throw unprocessable(
      `The image is ${header.width}×${header.height}; decoding it for this transform needs ${decoded} pixels, and transforms are limited to ${maxPixels} (ASSETS_TRANSFORM_MAX_PIXELS) to fit in the Worker's memory.`,
    );
  }
}

/**
 * The JPEG decode scale N (of 8): the smallest that still gives at least the target size, so the
 * final resize only ever reduces. 8 means a full decode.
 */
function jpegScale(extent: { width: number; height: number }, target: { width: number; height: number }): 1 | 2 | 4 | 8 {
  for (const n of [1, 2, 4] as const) {
    if (Math.ceil((extent.width * n) / 8) >= target.width && Math.ceil((extent.height * n) / 8) >= target.height) return n;
  }
  return 8;
}

/**
 * JPEG has no alpha: transparent pixels are composited on white rather than turning black.
 * Undefined when every pixel is opaque (nothing to do).
 */
function flattenOnWhite(img: PhotonImage): PhotonImage | undefined {
  const raw = img.get_raw_pixels();
  let any = false;
  for (let i = 3; i < raw.length; i += 4) {
    const a = raw[i] as number;
    if (a === 255) continue;
    any = true;
    for (let c = i - 3; c < i; c++) raw[c] = Math.round(((raw[c] as number) * a + 255 * (255 - a)) / 255);
    raw[i] = 255;
  }
  return any ? new PhotonImage(raw, img.get_width(), img.get_height()) : undefined;
}
