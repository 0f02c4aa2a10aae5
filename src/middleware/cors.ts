import { cors as honoCors } from 'hono/cors';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env';
import { BOOKMARK_HEADER } from './d1-session';
import { TUS_EXPOSED_HEADERS } from '../uploads/tus-protocol';

/** What browser TUS clients (tus-js-client, Uppy) send. */
const TUS_REQUEST_HEADERS = ['Tus-Resumable', 'Upload-Length', 'Upload-Defer-Length', 'Upload-Metadata', 'Upload-Offset', 'Upload-Checksum', 'X-HTTP-Method-Override', 'X-Requested-With'];

/** `scheme://host[:port]`, as browsers send it. `null` (sandboxed frames, file: and data: pages) is not one. */
const WEB_ORIGIN = /^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$|^https?:\/\/\[[0-9a-f:.]+\](:\d{1,5})?$/i;

/**
 * CORS from the CORS_* variables (Directus names); off unless CORS_ENABLED=true. `CORS_ORIGIN=true`
 * reflects a well-formed http(s) origin only: `null` is shared by every sandboxed document and
 * local file, so allowing it (with credentials, by default) would allow them all.
 */
export function cors() {
  return createMiddleware<AppEnv>(async function corsMiddleware(c, next) {
    const settings = c.get('config').cors;
    if (!settings.enabled) return next();
    const allowed = settings.origin;
    return honoCors({
      origin: (origin) => (allowed === true ? (WEB_ORIGIN.test(origin) ? origin : null) : allowed === false ? null : allowed.includes(origin) ? origin : null),
      allowMethods: settings.methods,
      allowHeaders: [...settings.allowedHeaders, ...TUS_REQUEST_HEADERS, BOOKMARK_HEADER],
      exposeHeaders: [...settings.exposedHeaders, 'X-Request-Id', BOOKMARK_HEADER, ...TUS_EXPOSED_HEADERS],
      credentials: settings.credentials,
      maxAge: settings.maxAge,
    })(c, next);
  });
}
