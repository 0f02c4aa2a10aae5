import type { Config } from '../config';
import type { FileRow } from '../db/schema';
import { AppError } from '../errors/app-error';
import { derivativesPrefix } from '../files/service';
import { hex } from '../lib/bytes';
import type { Dimensions } from '../images/dimensions';
import { imagesTransforms, renderWithImages } from '../images/images-engine';
import { plannedOutput, shownOrientation, type StreamedSource, transformImage } from '../images/pipeline';
import { CONTENT_TYPES, canonical, type Transform } from '../images/transform';
import { storageFor } from '../storage';
import { contentDisposition, evaluateConditionals } from './http';
import { cacheControl, type ServeOptions, validatorsOf } from './serve';
import { log } from '../lib/log';
import { type Refusal, refusalError, refusalOf, storedRefusal, storeRefusal } from './refusals';
import { readSource } from './source';

/** Derivatives up to this size are kept in the edge cache too. */
export const EDGE_DERIVATIVE_MAX_BYTES = 16 * 1024 * 1024;

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
