import { type Context, Hono } from 'hono';
import { EdgeCache } from '../assets/edge-cache';
import { serveAsset } from '../assets/serve-asset';
import { FilesRepository } from '../db/files-repository';
import { LiveUploadsRepository } from '../db/live-uploads-repository';
import type { AppEnv } from '../env';
import type { FilesDeps } from '../files/service';
import { principal } from '../middleware/auth';
import { primary } from '../middleware/d1-session';
import { fileNaming } from '../settings/service';

export const assetsRoutes = new Hono<AppEnv>();

/** Work that may be lost harmlessly (a cache put) runs after the response; without a context, inline. */
export function waitUntil(c: Context<AppEnv>, promise: Promise<unknown>): void {
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
 * After a change to a file (replaced, deleted, access, hash, focal point, name): its edge entries
 * stop being served here at once, and everywhere within ASSETS_EDGE_REVALIDATE (or at once with the
 * purge API).
 */
export function forgetAtEdge(c: Context<AppEnv>, fileId: string): Promise<void> {
  return new EdgeCache(c.get('config')).invalidate(fileId, (p) => waitUntil(c, p));
}

/** The files domain's dependencies for a request: its D1 session, and the primary to fall back on. */
export function filesDeps(c: Context<AppEnv>): FilesDeps {
  const db = c.get('db');
  return {
    config: c.get('config'),
    repo: new FilesRepository(db),
    live: new LiveUploadsRepository(c.env.DB),
    primary: new FilesRepository(primary(c.env.DB)),
    fileNaming: () => fileNaming(c.env.DB),
  };
}

function serve(c: Context<AppEnv>): Promise<Response> {
  const config = c.get('config');
  return serveAsset({
    config,
    deps: filesDeps(c),
    db: c.env.DB,
    url: new URL(c.req.url),
    method: c.req.method,
    headers: c.req.raw.headers,
    ref: c.req.param('id') ?? '',
    filename: c.req.param('filename'),
    principal: () => principal(c),
    waitUntil: (p) => waitUntil(c, p),
    images: c.env.IMAGES,
  });
}

assetsRoutes.on(['GET', 'HEAD'], '/:id', serve);
assetsRoutes.on(['GET', 'HEAD'], '/:id/:filename', serve);
