import { Hono } from 'hono';
import type { AppEnv } from '../env';
import { DEFAULT_LIMIT, MAX_LIMIT } from '../lib/query';
import { principal } from '../middleware/auth';
import { openApi } from '../openapi/document';
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

/** Directus's liveness probe: `pong` as text, touching neither D1 nor storage. */
serverRoutes.get('/ping', (c) => {
  c.header('Cache-Control', 'no-store');
  return c.text('pong');
});

/**
 * Directus's `/server/info`, the part that applies here. Everyone gets `project`; a valid token also
 * gets the query limits and the features this server does not have (`rateLimit`, `websocket`: false),
 * as Directus answers an authenticated user. Directus's `version` is left out on purpose: clients
 * gate features on it, and this is not that server. Nothing here is secret or per-deployment.
 */
serverRoutes.get('/info', async (c) => {
  const project = {
    project_name: 'edge-assets',
    project_descriptor: null,
    project_logo: null,
    project_color: null,
    default_language: 'en-US',
    public_foreground: null,
    public_background: null,
    public_note: null,
    custom_css: null,
  };
  const signedIn = (await principal(c)) !== undefined;
  const limits = { rateLimit: false, rateLimitGlobal: false, queryLimit: { default: DEFAULT_LIMIT, max: MAX_LIMIT }, websocket: false };
  return c.json({ data: signedIn ? { project, ...limits } : { project } });
});

/** The OpenAPI 3.1 document of the whole API (src/openapi/), made from the schemas the routes validate with. */
serverRoutes.get('/specs/oas', (c) => c.json(openApi()));
