import type { Config } from '../config';
import type { FileRow } from '../db/schema';
import { AppError } from '../errors/app-error';
import { derivativesPrefix } from '../files/service';
import { concat, hex } from '../lib/bytes';
import { type Dimensions, readDimensions } from '../images/dimensions';
import { isTiff } from '../images/tiff-ifd';
import { imagesTransforms, renderWithImages } from '../images/images-engine';
import { plannedOutput, shownOrientation, type StreamedSource, transformImage } from '../images/pipeline';
import { CONTENT_TYPES, canonical, type Transform } from '../images/transform';
import { storageFor } from '../storage';
import { contentDisposition, evaluateConditionals } from './http';
import { cacheControl, type ServeOptions, validatorsOf } from './serve';
import { log } from '../lib/log';
import { type Refusal, refusalError, refusalOf, storedRefusal, storeRefusal } from './refusals';

/** Types the pipeline decodes; others are served as they are, as Directus does. */
export const RASTER_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif', 'image/tiff']);

/** A source larger than this is not fetched into memory to be decoded (PNG is streamed instead). */
const MAX_SOURCE_BYTES = 48 * 1024 * 1024;
/** Derivatives up to this size are kept in the edge cache too. */
export const EDGE_DERIVATIVE_MAX_BYTES = 16 * 1024 * 1024;
/** Read before the header is looked at (a JPEG's frame header may follow up to 1 MiB of metadata). */
const HEADER_BYTES = 256 * 1024;

/** Identical misses in this isolate share one generation. */
const inFlight = new Map<string, Promise<Produced>>();

type Produced = { body: Uint8Array; contentType: string; from: 'storage' | 'generated'; timing: string } | { refused: Refusal };

export interface DerivativeOptions extends ServeOptions {
  waitUntil: (promise: Promise<unknown>) => void;
  /** Given a rendered (or stored) derivative's bytes and headers, to keep it in the edge cache. */
  keep?: (body: Uint8Array, headers: Headers) => void;
  /** Given the engine's refusal of this file and transform (made now or remembered), to keep it in the edge cache. */
  keepRefusal?: (refusal: Refusal) => void;
  /**
   * For an ad-hoc transform: the budget of ASSETS_TRANSFORM_MAX_VARIANTS. `reserve` takes the
   * derivative's hash before it is rendered (false when the file has no room left); `release` gives
   * it back when the render fails, so refused requests cannot use up a file's budget.
   */
  variants?: { reserve(hash: string): Promise<'new' | 'existing' | 'full'>; release(hash: string): Promise<void> };
  /** ASSETS_TRANSFORM_ENGINE=images: the binding that makes derivatives (the WASM engine when it cannot). */
  images?: ImagesBinding;
}

/** What a derivative is, for its answer: wherever its bytes come from, the same headers. */
export interface DerivativeInfo {
  etag: string;
  contentType: string;
  /** The download name, before the derivative's extension replaces its own. */
  name: string;
  /** `format=auto`: the answer varies with Accept. */
  varies: boolean;
  lastModified: Date | undefined;
}

/**
 * The headers of a derivative's answer, and the answer itself when the request's conditionals
 * settle it (304, 412) before any byte is needed.
 */
export function derivativeAnswer(config: Config, d: DerivativeInfo, o: ServeOptions): { headers: Headers; settled?: Response } {
  const ext = Object.entries(CONTENT_TYPES).find(([, type]) => type === d.contentType)?.[0] ?? 'bin';
  const headers = new Headers({
    ETag: d.etag,
    'Cache-Control': cacheControl(config, o),
    'X-Content-Type-Options': 'nosniff',
    'Content-Type': d.contentType,
    'Content-Disposition': contentDisposition(o.download ? 'attachment' : 'inline', `${(o.filename ?? d.name).replace(/\.[^./]*$/, '')}.${ext}`),
  });
  if (d.varies) headers.set('Vary', 'Accept');
  const outcome = evaluateConditionals(o.headers, o.method, { etag: d.etag, lastModified: d.lastModified ?? new Date(0) });
  if (outcome === 'proceed') return { headers };
  return { headers, settled: new Response(null, { status: outcome === 'not-modified' ? 304 : 412, headers }) };
}

/**
 * Serves a transformed image from the first level that has it: the `generated/<id>/<hash>.<ext>`
 * object in storage, then a fresh render (written to `generated/` after the response). The key and
 * the ETag both carry the source's version (its SHA-256), so after a replacement no level can answer
 * with the old image. (The edge cache sits in front of this, in serve-asset.ts.)
 */
export async function serveDerivative(config: Config, row: FileRow, t: Transform, o: DerivativeOptions): Promise<Response> {
  const version = validatorsOf(row).etag.slice(1, -1);
  const spec = canonical(t);
  const hash = hex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${version}\n${spec}`))).slice(0, 32);
  const info = { etag: `"${hash}"`, contentType: CONTENT_TYPES[t.format], name: row.filenameDownload, varies: t.auto, lastModified: new Date(row.uploadedOn ?? row.createdOn) };
  const { headers, settled } = derivativeAnswer(config, info, o);
  if (settled) return settled;

  const key = `${derivativesPrefix(row.id)}${hash}.${t.format}`;
  let flight = inFlight.get(key);
  if (!flight) {
    const { variants } = o;
    const budget = variants && { reserve: () => variants.reserve(hash), release: () => variants.release(hash) };
    flight = produce(config, row, t, key, o.waitUntil, budget, o.images).finally(() => inFlight.delete(key));
    inFlight.set(key, flight);
  }
  const result = await flight;
  if ('refused' in result) {
    o.keepRefusal?.(result.refused);
    throw refusalError(result.refused);
  }
  headers.set('X-Cache', result.from === 'storage' ? 'HIT-STORAGE' : 'MISS');
  // Workers' clock only moves across I/O, so these are coarse; they still show where a miss went.
  headers.set('Server-Timing', result.timing);
  headers.set('Content-Length', String(result.body.byteLength));
  if (result.body.byteLength <= EDGE_DERIVATIVE_MAX_BYTES && o.keep) {
    o.keep(result.body, new Headers({ ETag: info.etag, 'Content-Type': info.contentType, 'Content-Length': String(result.body.byteLength) }));
  }
  return new Response(o.method === 'HEAD' ? null : result.body, { status: 200, headers });
}

/**
 * The derivative's bytes: from `generated/` if it was made before, else rendered. The copy in
 * `generated/` is written after the response (`waitUntil`): it is a cache, and losing it only costs
 * a render. (A write that lands after the file was deleted leaves an orphan under its old version's
 * hash, which can never be served; the next replace or delete of that id clears it.) A refusal is
 * remembered beside it the same way (refusals.ts), and looked up before anything is reserved or read.
 */
async function produce(
  config: Config,
  row: FileRow,
  t: Transform,
  key: string,
  waitUntil: (p: Promise<unknown>) => void,
  budget: { reserve(): Promise<'new' | 'existing' | 'full'>; release(): Promise<void> } | undefined,
  images: ImagesBinding | undefined,
) {
  const client = storageFor(config, row.storage);
  const started = performance.now();
  // Looked up beside the reservation (one round trip); a variant reserved for nothing is given back.
  const remembering = storedRefusal(config, client, key).then(
    (refusal) => ({ refusal }),
    (error: unknown) => ({ error }),
  );
  const reserved = await budget?.reserve();
  const remembered = await remembering;
  // A remembered refusal keeps its variant's place (see below); only a failed lookup gives it back.
  if (reserved === 'new' && 'error' in remembered) await budget?.release();
  if ('error' in remembered) throw remembered.error;
  if (remembered.refusal) return { refused: remembered.refusal };
  if (reserved === 'full') {
    throw new AppError(
      'ILLEGAL_ASSET_TRANSFORMATION',
      `File "${row.id}" already has ${config.assets.maxVariants} ad-hoc variants (ASSETS_TRANSFORM_MAX_VARIANTS): use a preset (?key=) or a size already made.`,
    );
  }
  // A variant reserved just now was never rendered, so `generated/` cannot have it: one storage
  // round trip fewer on every first miss. Presets and variants reserved before are looked up.
  const body = reserved === 'new' ? null : await client.readBytes(key);
  if (body) {
    return { body, contentType: CONTENT_TYPES[t.format], from: 'storage' as const, timing: `storage;dur=${Math.round(performance.now() - started)}` };
  }
  const read = performance.now();
  let rendering = read;
  let engine = 'wasm';
  /** A streamed source not read by then is cancelled on failure (a refusal before decoding), not left to GC. */
  let streamed: StreamedSource | undefined;
  /** A read that failed midway may look like a damaged image to the decoder: such a refusal is not remembered. */
  const reading = { failed: false };
  // The output and work budgets need only the header: checked before the rest of the source is read.
  const fits = (head: Uint8Array, header: Dimensions) => plannedOutput(header, shownOrientation(head, t), t, config.assets.maxPixels, config.assets.maxPasses);
  const rendered = await (async () => {
    const { source, header } = await readSource(config, row, fits, reading);
    if (!(source instanceof Uint8Array)) streamed = source;
    rendering = performance.now();
    const orientation = shownOrientation(source, t);
    const steps = images ? imagesTransforms(t, header, orientation) : undefined;
    if (images && steps) {
      try {
        const made = await renderWithImages(images, source, header, t, steps);
        engine = 'images';
        return made;
      } catch (error) {
        // The binding's failure is not the request's: the WASM engine makes it if the source fits it
        // (its own limits then apply). A streamed source was given to the binding: it is read again.
        log('warn', 'Images binding failed; the WASM engine makes this derivative', { reason: (error as Error).message });
        engine = 'wasm (images failed)';
        const again = source instanceof Uint8Array ? { source, header } : await readSource(config, row, fits, reading);
        return transformImage(again.source, again.header, t, config.assets.maxPixels, config.assets.maxPasses);
      }
    }
    return transformImage(source, header, t, config.assets.maxPixels, config.assets.maxPasses);
  })().catch(async (error: unknown) => {
    if (streamed && !streamed.stream.locked) await streamed.stream.cancel().catch(() => {});
    const refused = reading.failed ? undefined : refusalOf(error);
    if (!refused) {
      if (reserved === 'new') await budget?.release().catch(() => {});
      throw error;
    }
    // A remembered refusal is an object under generated/ like a derivative, so it keeps its place in
    // ASSETS_TRANSFORM_MAX_VARIANTS: otherwise anyone could write one per refused size without bound.
    waitUntil(storeRefusal(config, client, key, refused));
    return { refused };
  });
  if ('refused' in rendered) return rendered;
  const done = performance.now();
  waitUntil(
    client.putObject(key, rendered.body, { contentType: rendered.contentType, contentLength: rendered.body.byteLength }).catch((error: Error) => {
      log('warn', 'derivative not stored', { key, reason: error.message });
    }),
  );
  const timing = `storage;dur=${Math.round(read - started)}, source;dur=${Math.round(rendering - read)}, render;dur=${Math.round(done - rendering)};desc="${engine}"`;
  return { body: rendered.body, contentType: rendered.contentType, from: 'generated' as const, timing };
}

/**
 * The source and its header, from one read of the object. The dimensions come from the first bytes,
 * so the pipeline can refuse a 20000×20000 PNG that is small on disk without decoding a pixel. A PNG
 * stays a stream (its decoder holds a row at a time, so it has no size cap but its pixels); other
 * formats are decoded from the whole file, so they are read into memory up to MAX_SOURCE_BYTES.
 * `fits` checks the header (the output and work budgets) before anything more is read.
 */
async function readSource(
  config: Config,
  row: FileRow,
  fits: (head: Uint8Array, header: Dimensions) => void,
  reading: { failed: boolean },
): Promise<{ source: Uint8Array | StreamedSource; header: Dimensions }> {
  const read = await storageFor(config, row.storage).readObject(row.filenameDisk ?? row.id);
  if (!read) throw new AppError('NOT_FOUND', `File "${row.id}" has no stored bytes.`);
  const reader = read.body.getReader();
  const next = () =>
    reader.read().catch((error: unknown) => {
      reading.failed = true;
      throw error;
    });
  const chunks: Uint8Array[] = [];
  let size = 0;
  let ended = false;
  const readTo = async (want: number) => {
    while (!ended && size < want) {
      const { done, value } = await next();
      if (done) ended = true;
      else {
        chunks.push(value);
        size += value.byteLength;
      }
    }
    const whole = concat(chunks);
    chunks.splice(0, chunks.length, whole);
    return whole;
  };
  try {
    let prefix = await readTo(HEADER_BYTES);
    let header = readDimensions(prefix);
    // A TIFF's directory is often at its end: it is read as far as a whole source may be.
    const headerLimit = isTiff(prefix) ? MAX_SOURCE_BYTES + 1 : 4 * HEADER_BYTES;
    while (header && 'needBytes' in header && header.needBytes > size && !ended && size < headerLimit) {
      prefix = await readTo(Math.min(header.needBytes + HEADER_BYTES, headerLimit));
      header = readDimensions(prefix);
    }
    if (!header || 'needBytes' in header) throw new AppError('UNPROCESSABLE_IMAGE', `File "${row.id}" is not an image that can be transformed (its header could not be read).`);
    fits(prefix, header);
    if (header.format === 'png') {
      const stream = new ReadableStream<Uint8Array>({
        start: (controller) => controller.enqueue(prefix),
        pull: async (controller) => {
          const { done, value } = await next();
          if (done) controller.close();
          else controller.enqueue(value);
        },
        cancel: (reason) => reader.cancel(reason),
      });
      return { source: { head: prefix, stream }, header };
    }
    if (row.filesize > MAX_SOURCE_BYTES) {
      throw new AppError('UNPROCESSABLE_IMAGE', `The image file is ${row.filesize} bytes; transforms read at most ${MAX_SOURCE_BYTES} of a ${header.format.toUpperCase()} file.`);
    }
    const bytes = await readTo(MAX_SOURCE_BYTES + 1);
    await reader.cancel();
    return { source: bytes, header };
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw error;
  }
}
