import { createMiddleware } from 'hono/factory';
import { routePath } from 'hono/route';
import type { AppEnv } from '../env';
import { log, type LogScope, withLogScope } from '../lib/log';

/**
 * One structured line per request, when it has been answered: request id, method, the route's
 * pattern (never the path, which may hold a private hash, nor the query, which may hold a
 * signature), status, duration and the storage requests that had to be repeated. Work the request
 * leaves to `waitUntil` shares its scope, so its own lines carry the same request id.
 */
export function requestLog() {
  return createMiddleware<AppEnv>(async function requestLogMiddleware(c, next) {
    const scope: LogScope = { requestId: c.get('requestId'), storageRetries: 0 };
    const started = Date.now();
    await withLogScope(scope, async () => {
      await next();
      log(c.res.status >= 500 ? 'error' : 'info', 'request', {
        method: c.req.method,
        route: routePath(c, -1) || 'unmatched',
        status: c.res.status,
        durationMs: Date.now() - started,
        storageRetries: scope.storageRetries,
      });
    });
  });
}
