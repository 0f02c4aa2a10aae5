import { Hono } from 'hono';
import type { AppEnv } from '../env';
import { requireScope } from '../middleware/auth';
import { jsonBody } from './json-body';
import { assetSettings, updateAssetSettings } from '../settings/service';

/** Directus's project settings this service keeps: the asset whitelist (`storage_asset_transform`, presets) and `file_naming`. */
export const settingsRoutes = new Hono<AppEnv>();

settingsRoutes.get('/', requireScope('read'), async (c) => c.json({ data: await assetSettings(c.env.DB) }));

settingsRoutes.patch('/', requireScope('admin'), async (c) => {
  return c.json({ data: await updateAssetSettings(c.env.DB, await jsonBody(c), c.get('config').assets) });
});
