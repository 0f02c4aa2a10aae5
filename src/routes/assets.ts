import { type Context, Hono } from 'hono';
import { RASTER_TYPES, serveDerivative } from '../assets/derivatives';
import { serveOriginal } from '../assets/serve';
import { verifyAssetSignature } from '../assets/signing';
import { allows } from '../auth/tokens';
import { FilesRepository } from '../db/files-repository';
import { LiveUploadsRepository } from '../db/live-uploads-repository';
import type { AppEnv } from '../env';
import { AppError } from '../errors/app-error';
import { fileByPrivateHash, isUuid, requireFile } from '../files/service';
import { adHocParams, resolveTransform, wantsTransform } from '../images/transform';
import { principal } from '../middleware/auth';
import { assetSettings } from '../settings/service';

export const assetsRoutes = new Hono<AppEnv>();

/** Work that may be lost harmlessly (a cache put) runs after the response; without a context, inline. */
function waitUntil(c: Context<AppEnv>, promise: Promise<unknown>): void {
  let ctx: { waitUntil(promise: Promise<unknown>): void } | undefined;
  try {
    ctx = c.executionCtx;
  } catch {
    ctx = undefined;
  }
  if (ctx) ctx.waitUntil(promise);
  else promise.catch(() => {});
}

/**
 * Who may see a file: anyone for a public file (ASSETS_PUBLIC=true); for a private one, a token with
 * the read scope, a valid signed URL, or its private hash (`/assets/<private_hash>`, a revocable
 * capability). With ASSETS_SIGNED_TRANSFORMS, ad-hoc transforms need a signature or a token too.
 */
async function serve(c: Context<AppEnv>): Promise<Response> {
  const config = c.get('config');
  const deps = { config, repo: new FilesRepository(c.env.DB), live: new LiveUploadsRepository(c.env.DB) };
  const url = new URL(c.req.url);
  const params = url.searchParams;
  const who = await principal(c);
  const authorized = who !== undefined && allows(who, 'read');
  const signedFor = params.has('signature') ? await verifyAssetSignature(config, url) : undefined;
  const key = c.req.param('id') ?? '';
  const byHash = isUuid(key) ? undefined : await fileByPrivateHash(deps, key);
  const row = byHash ?? (await requireFile(deps, key));
  const isPrivate = !config.assets.public || row.access === 'private';
  if (isPrivate && !authorized && signedFor === undefined && !byHash) {
    throw new AppError('INVALID_CREDENTIALS', 'This file is private: use a token, a signed URL or its private hash.', { headers: { 'WWW-Authenticate': 'Bearer' } });
  }
  if (config.assets.signedTransforms && adHocParams(params).length > 0 && !authorized && signedFor === undefined) {
    throw new AppError('INVALID_SIGNATURE', 'Transforms need a signed URL here (ASSETS_SIGNED_TRANSFORMS); presets (?key=) do not.');
  }
  const options = {
    method: c.req.method,
    headers: c.req.raw.headers,
    download: params.has('download'),
    filename: c.req.param('filename'),
    private: isPrivate || signedFor !== undefined,
    ...(signedFor === undefined ? {} : { maxAge: signedFor }),
  };
  // Only raster images are transformed; anything else (SVG, PDF, video) is served as it is (Directus).
  if (!wantsTransform(params) || !RASTER_TYPES.has(row.type ?? '')) return serveOriginal(config, row, options);
  const transform = resolveTransform(params, {
    settings: await assetSettings(c.env.DB),
    maxDimension: config.assets.maxDimension,
    accept: c.req.header('accept') ?? null,
    sourceType: row.type ?? '',
    focalPointX: row.focalPointX,
    focalPointY: row.focalPointY,
  });
  const adHoc = adHocParams(params).length > 0;
  return serveDerivative(config, row, transform, {
    ...options,
    origin: url.origin,
    waitUntil: (p) => waitUntil(c, p),
    ...(adHoc
      ? {
          variants: {
            reserve: (hash: string) => deps.repo.reserveDerivative(row.id, hash, config.assets.maxVariants),
            release: (hash: string) => deps.repo.releaseDerivative(row.id, hash),
          },
        }
      : {}),
  });
}

assetsRoutes.on(['GET', 'HEAD'], '/:id', serve);
assetsRoutes.on(['GET', 'HEAD'], '/:id/:filename', serve);
