import { Hono } from 'hono';
import type { AppEnv } from '../env';
import { AppError } from '../errors/app-error';
import { requireScope } from '../middleware/auth';
import { assetSettings, updateAssetSettings } from '../settings/service';

/** Directus's project settings, the asset whitelist part: `storage_asset_transform` and presets. */
export const settingsRoutes = new Hono<AppEnv>();

settingsRoutes.get('/', requireScope('read'), async (c) => c.json({ data: await assetSettings(c.env.DB) }));

settingsRoutes.patch('/', requireScope('admin'), async (c) => {
  const body = await c.req.json().catch(() => {
    throw new AppError('INVALID_PAYLOAD', 'The request body must be valid JSON.');
  });
  return c.json({ data: await updateAssetSettings(c.env.DB, body, c.get('config').assets.maxDimension) });
});
