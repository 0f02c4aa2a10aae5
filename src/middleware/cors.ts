import { cors as honoCors } from 'hono/cors';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env';

/** CORS from the CORS_* variables (Directus names); off unless CORS_ENABLED=true. */
export function cors() {
  return createMiddleware<AppEnv>(async function corsMiddleware(c, next) {
    const settings = c.get('config').cors;
    if (!settings.enabled) return next();
    const allowed = settings.origin;
    return honoCors({
      origin: (origin) => (allowed === true ? origin : allowed === false ? null : allowed.includes(origin) ? origin : null),
      allowMethods: settings.methods,
      allowHeaders: settings.allowedHeaders,
      exposeHeaders: [...settings.exposedHeaders, 'X-Request-Id'],
      credentials: settings.credentials,
      maxAge: settings.maxAge,
    })(c, next);
  });
}
