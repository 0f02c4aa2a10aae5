import { type Context, Hono } from 'hono';
import { RASTER_TYPES, serveDerivative } from '../assets/derivatives';
import { serveOriginal } from '../assets/serve';
import { FilesRepository } from '../db/files-repository';
import type { AppEnv } from '../env';
import { AppError } from '../errors/app-error';
import { requireFile } from '../files/service';
import { resolveTransform, wantsTransform } from '../images/transform';
import { isAdmin } from '../middleware/auth';
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

async function serve(c: Context<AppEnv>): Promise<Response> {
  const config = c.get('config');
  const admin = await isAdmin(c);
  if (!config.assets.public && !admin) {
    throw new AppError('INVALID_CREDENTIALS', 'This asset needs a token (ASSETS_PUBLIC=false).', { headers: { 'WWW-Authenticate': 'Bearer' } });
  }
  const row = await requireFile({ config, repo: new FilesRepository(c.env.DB) }, c.req.param('id') ?? '');
  const params = new URL(c.req.url).searchParams;
  const options = {
    method: c.req.method,
    headers: c.req.raw.headers,
    download: params.has('download'),
    filename: c.req.param('filename'),
    private: !config.assets.public,
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
  return serveDerivative(config, row, transform, {
    ...options,
    origin: new URL(c.req.url).origin,
    waitUntil: (p) => waitUntil(c, p),
  });
}

assetsRoutes.on(['GET', 'HEAD'], '/:id', serve);
assetsRoutes.on(['GET', 'HEAD'], '/:id/:filename', serve);
