import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env';

const SAFE_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Gives every request an id, echoed in `X-Request-Id` and used in logs. A well-formed incoming id
 * (from a proxy or the client) is kept so one request can be followed across systems.
 */
export function requestId() {
  return createMiddleware<AppEnv>(async function requestIdMiddleware(c, next) {
    const incoming = c.req.header('x-request-id');
    const id = incoming && SAFE_ID.test(incoming) ? incoming : crypto.randomUUID();
    c.set('requestId', id);
    await next();
    c.res.headers.set('X-Request-Id', id);
  });
}
