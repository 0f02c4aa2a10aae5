import { Hono } from 'hono';
import type { AppEnv } from '../env';
import { checkHealth } from '../server/health';
import { storageFor } from '../storage';

export const serverRoutes = new Hono<AppEnv>();

/** `{"status":"ok"}` when D1 and the default storage answer; 503 naming the failing check when not. */
serverRoutes.get('/health', async (c) => {
  const config = c.get('config');
  const report = await checkHealth(c.env.DB, storageFor(config), config.defaultLocation);
  c.header('Cache-Control', 'no-store');
  return report.status === 'ok' ? c.json({ status: 'ok' }) : c.json(report, 503);
});
