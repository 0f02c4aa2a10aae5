import { createMiddleware } from 'hono/factory';
import { routePath } from 'hono/route';
import type { AppEnv } from '../env';
import { log, type LogScope, withLogScope } from '../lib/log';

/** A request slower than this is always logged, whatever it was. */
const SLOW_MS = 1000;

/**
 * One structured line per request, when it has been answered: request id, method, the route's
 * pattern (never the path, which may hold a private hash, nor the query, which may hold a
 * signature), status, duration and the storage requests that had to be repeated. Work the request
 * leaves to `waitUntil` shares its scope, so its own lines carry the same request id.
 *
 * Edge-cache hits are the bulk of the traffic and the cheapest answers: a line for each cost a third
 * of their throughput under `wrangler dev`, and Workers Logs records every invocation's status,
 * path and duration anyway. So a hit that succeeded fast with no retry is logged at LOG_SAMPLE_RATE;
 * errors, misses, writes, slow requests and storage retries always are.
 */
export function requestLog() {
  return createMiddleware<AppEnv>(async function requestLogMiddleware(c, next) {
    const scope: LogScope = { requestId: c.get('requestId'), storageRetries: 0 };
    const started = Date.now();
    await withLogScope(scope, async () => {
      await next();
      const durationMs = Date.now() - started;
      const routine = c.res.status < 400 && c.res.headers.get('x-cache') === 'HIT-EDGE' && durationMs < SLOW_MS && scope.storageRetries === 0;
      // Config is missing when it failed to parse: that request is an error, logged in full.
      if (routine && Math.random() >= (c.get('config')?.log.sampleRate ?? 1)) return;
      log(c.res.status >= 500 ? 'error' : 'info', 'request', {
        method: c.req.method,
        route: routePath(c, -1) || 'unmatched',
        status: c.res.status,
        durationMs,
        storageRetries: scope.storageRetries,
        ...(routine ? { sampled: true } : {}),
      });
    });
  });
}
