import { allows, type Principal } from '../auth/tokens';
import type { Config } from '../config';
import type { FilesRepository } from '../db/files-repository';
import type { FileRow } from '../db/schema';
import { AppError } from '../errors/app-error';
import { fileByPrivateHash, type FilesDeps, isUuid, requireFile } from '../files/service';
import { wellFormedType } from '../files/media-type';
import { asStoredBytes } from '../files/embeds';
import { adHocParams, requestVariant, resolveTransform, wantsTransform } from '../images/transform';
import { assetSettings, assetSettingsVersion } from '../settings/service';
import { storageFor } from '../storage';
import { derivativeAnswer, serveDerivative } from './derivatives';
import { RASTER_TYPES } from './source';
import { type Refusal, refusalError } from './refusals';
import { type Audience, EdgeCache, type EdgeHit, type EntryMeta, fingerprint } from './edge-cache';
import { answerOriginal, type ServeOptions, serveOriginal } from './serve';
import { verifyAssetSignature } from './signing';

export interface AssetRequest {
  config: Config;
  deps: FilesDeps;
  db: D1Database;
  url: URL;
  method: string;
  headers: Headers;
  /** The `/assets/:ref` segment: a file id or a private hash. */
  ref: string;
  filename: string | undefined;
  /** The request's token, checked (a stored token costs a D1 read); undefined without one. */
  principal: () => Promise<Principal | undefined>;
  waitUntil: (promise: Promise<unknown>) => void;
  /** The IMAGES binding, when the Worker has one. */
  images: ImagesBinding | undefined;
}

/** Identical original fills in this isolate share one storage read. */
const filling = new Set<string>();

/**
 * `/assets/:ref`. Who may see a file: anyone for a public file (ASSETS_PUBLIC=true); for a private
 * one, a token with the read scope, a valid signed URL, or its private hash (a revocable
 * capability). With ASSETS_SIGNED_TRANSFORMS, ad-hoc transforms need a signature or a token too.
 *
 * The edge cache is asked first, before D1 or storage, for everything that needs no database to be
 * allowed: a public file's URL, a private hash, a signed URL (HMAC), and a token once checked.
 * Entries are keyed by what the request names, so a hit touches neither D1 nor storage; past
 * ASSETS_EDGE_REVALIDATE an entry is checked against its record once and kept or dropped. On a
 * miss: the record, the access check, then the original (streamed from storage; the edge copy is
 * filled by a storage read of its own after the answer) or the derivative.
 */
export async function serveAsset(r: AssetRequest): Promise<Response> {
  const { config, url } = r;
  const params = url.searchParams;
  const who = await r.principal();
  const authorized = who !== undefined && allows(who, 'read');
  const signedFor = params.has('signature') ? await verifyAssetSignature(config, url) : undefined;
  if (config.assets.signedTransforms && adHocParams(params).length > 0 && !authorized && signedFor === undefined) {
    throw new AppError('INVALID_SIGNATURE', 'Transforms need a signed URL here (ASSETS_SIGNED_TRANSFORMS); presets (?key=) do not.');
  }
  const viaHash = !isUuid(r.ref);
  const proven = authorized || signedFor !== undefined;
  const accept = r.headers.get('accept');
  const variant = requestVariant(params, wantsTransform(params) ? await assetSettingsVersion(r.db) : '', accept);
  const edge = new EdgeCache(config);
  // With ASSETS_PUBLIC=false no entry is for anyone, whatever was stored while it was true.
  const anyone: Audience[] = config.assets.public ? ['anyone'] : [];
  const audiences: Audience[] = viaHash ? ['proven'] : proven ? [...anyone, 'proven'] : anyone;
  const hit = audiences.length > 0 ? await edge.lookup(r.ref, variant, audiences) : undefined;
  const options = (isPrivate: boolean): ServeOptions => ({
    method: r.method,
    headers: r.headers,
    download: params.has('download'),
    filename: r.filename,
    private: isPrivate || signedFor !== undefined,
    ...(signedFor === undefined ? {} : { maxAge: signedFor }),
  });
  // An entry a request may be answered from is one it could see: anonymous requests only find
  // public files' entries, so only proven requests and private hashes get private answers.
  if (hit?.fresh) return answerFromEdge(config, edge, hit, options(hit.audience === 'proven'));

  // What is learned from this read is true as of before it: a change that lands meanwhile leaves a
  // tombstone later than this, so an entry stamped with it cannot outlive the change.
  const readAt = Date.now();
  const row = await fileFor(r.deps, r.ref, viaHash);
  const isPrivate = !config.assets.public || row.access === 'private';
  if (isPrivate && !authorized && signedFor === undefined && !viaHash) {
    await hit?.response.body?.cancel();
    throw new AppError('INVALID_CREDENTIALS', 'This file is private: use a token, a signed URL or its private hash.', { headers: { 'WWW-Authenticate': 'Bearer' } });
  }
  const audience: Audience = viaHash || isPrivate ? 'proven' : 'anyone';
  const print = await fingerprint(config, row);
  if (hit) {
    // A refusal is not renewed at the edge: past its check it is dropped, and the copy in storage,
    // which knows the limits it was made under, answers (or a raised limit lets the variant be made).
    if (hit.meta.fingerprint === print && hit.audience === audience && !hit.meta.refused) {
      r.waitUntil(edge.refresh(hit, readAt));
      return answerFromEdge(config, edge, hit, options(isPrivate || viaHash));
    }
    await hit.response.body?.cancel();
    await edge.drop(hit);
  }
  const meta: EntryMeta = { fileId: row.id, fingerprint: print, checkedAt: readAt, name: row.filenameDownload, original: true, varies: false, refused: false };
  const keep = (headers: Headers, body: BodyInit, m: EntryMeta) => r.waitUntil(edge.put(r.ref, variant, audience, m, headers, body));

  // HEIC's codec (HEVC) is patent-encumbered: no engine here decodes it (sharp's builds leave it out too).
  if (wantsTransform(params) && /^image\/hei[cf](-sequence)?$/.test(row.type ?? '')) {
    throw new AppError('UNPROCESSABLE_IMAGE', 'HEIC/HEIF images cannot be transformed: their codec (HEVC) is patent-encumbered and not included. Ask for the original (no parameters), or upload a JPEG, PNG, WebP or AVIF.');
  }
  // Only raster images are transformed; anything else (SVG, PDF, video) is served as it is (Directus).
  if (!wantsTransform(params) || !RASTER_TYPES.has(row.type ?? '')) {
    if (row.filesize <= config.edge.originalMaxSize) r.waitUntil(fillOriginal(config, row, `${r.ref}|${variant}|${audience}`, (h, b) => keep(h, b, meta)));
    return serveOriginal(config, row, options(isPrivate || viaHash), { 'X-Cache': 'MISS' });
  }
  const transform = resolveTransform(params, {
    settings: await assetSettings(r.db),
    maxDimension: config.assets.maxDimension,
    maxOperations: config.assets.maxOperations,
    accept,
    sourceType: row.type ?? '',
    sourceWidth: row.width,
    sourceHeight: row.height,
    focalPointX: row.focalPointX,
    focalPointY: row.focalPointY,
  });
  const adHoc = adHocParams(params).length > 0;
  if (config.assets.engine === 'images' && !r.images) {
    throw new AppError('INVALID_CONFIG', 'ASSETS_TRANSFORM_ENGINE=images needs the IMAGES binding ([images] binding = "IMAGES" in wrangler.toml).');
  }
  const repo: FilesRepository = r.deps.repo;
  return serveDerivative(config, row, transform, {
    ...options(isPrivate || viaHash),
    waitUntil: r.waitUntil,
    ...(config.assets.engine === 'images' ? { images: r.images } : {}),
    keep: (body, headers) => keep(headers, body, { ...meta, original: false, varies: transform.auto }),
    keepRefusal: (refusal) => keep(new Headers({ 'Content-Type': 'application/json' }), JSON.stringify(refusal), { ...meta, original: false, varies: transform.auto, refused: true }),
    ...(adHoc
      ? {
          variants: {
            reserve: (hash: string) => repo.reserveDerivative(row.id, hash, config.assets.maxVariants),
            release: (hash: string) => repo.releaseDerivative(row.id, hash),
          },
        }
      : {}),
  });
}

async function fileFor(deps: FilesDeps, ref: string, viaHash: boolean): Promise<FileRow> {
  const byHash = viaHash ? await fileByPrivateHash(deps, ref) : undefined;
  return asStoredBytes(byHash ?? (await requireFile(deps, ref)));
}

/**
 * The edge copy of an original comes from a storage read of its own, after the answer: never a
 * `tee()` of the client's stream, which would hold in the isolate whatever a slow client has not
 * taken yet. The Cache API consumes the stream natively.
 */
async function fillOriginal(config: Config, row: FileRow, once: string, keep: (headers: Headers, body: BodyInit) => void): Promise<void> {
  if (filling.has(once)) return;
  filling.add(once);
  try {
    const object = await storageFor(config, row.storage).getObject(row.filenameDisk ?? row.id);
    if (!object?.body) return;
    const headers = new Headers({
      'Content-Type': wellFormedType(row.type) ?? 'application/octet-stream',
      'Content-Length': String(object.size),
      ETag: `"${row.checksum ?? ''}"`,
      'Last-Modified': new Date(row.uploadedOn ?? row.createdOn).toUTCString(),
    });
    keep(headers, object.body);
  } finally {
    filling.delete(once);
  }
}

async function answerFromEdge(config: Config, edge: EdgeCache, hit: EdgeHit, o: ServeOptions): Promise<Response> {
  if (hit.meta.refused) throw refusalError((await hit.response.json()) as Refusal);
  const h = hit.response.headers;
  const etag = h.get('etag') ?? '';
  const lastModified = new Date(h.get('last-modified') ?? 0);
  if (hit.meta.original) {
    const rep = { fileId: hit.meta.fileId, validators: { etag, lastModified }, type: h.get('content-type'), name: hit.meta.name, size: Number(h.get('content-length')) };
    const source = {
      read: async (range?: { start: number; end: number }) => (range ? ((await edge.ranged(hit, `bytes=${range.start}-${range.end}`))?.body ?? null) : hit.response.body),
      size: async () => rep.size,
      discard: async () => void (await hit.response.body?.cancel()),
    };
    return answerOriginal(config, rep, source, o, { 'X-Cache': 'HIT-EDGE' });
  }
  const info = { etag, contentType: h.get('content-type') ?? 'application/octet-stream', name: hit.meta.name, varies: hit.meta.varies, lastModified: undefined };
  const { headers, settled } = derivativeAnswer(config, info, o);
  headers.set('X-Cache', 'HIT-EDGE');
  if (settled || o.method === 'HEAD') void hit.response.body?.cancel();
  if (settled) return settled;
  headers.set('Content-Length', h.get('content-length') ?? '0');
  return new Response(o.method === 'HEAD' ? null : hit.response.body, { status: 200, headers });
}
