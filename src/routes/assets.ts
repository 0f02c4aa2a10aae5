import { type Context, Hono } from 'hono';
import { serveOriginal } from '../assets/serve';
import { FilesRepository } from '../db/files-repository';
import type { AppEnv } from '../env';
import { AppError } from '../errors/app-error';
import { requireFile } from '../files/service';
import { isAdmin } from '../middleware/auth';

export const assetsRoutes = new Hono<AppEnv>();

async function serve(c: Context<AppEnv>): Promise<Response> {
  const config = c.get('config');
  const admin = await isAdmin(c);
  if (!config.assets.public && !admin) {
    throw new AppError('INVALID_CREDENTIALS', 'This asset needs a token (ASSETS_PUBLIC=false).', { headers: { 'WWW-Authenticate': 'Bearer' } });
  }
  const row = await requireFile({ config, repo: new FilesRepository(c.env.DB) }, c.req.param('id') ?? '');
  return serveOriginal(config, row, {
    method: c.req.method,
    headers: c.req.raw.headers,
    download: c.req.query('download') !== undefined,
    filename: c.req.param('filename'),
    private: !config.assets.public,
  });
}

assetsRoutes.on(['GET', 'HEAD'], '/:id', serve);
assetsRoutes.on(['GET', 'HEAD'], '/:id/:filename', serve);
