import { createMiddleware } from 'hono/factory';
import { getConfig } from '../config';
import type { AppEnv } from '../env';

/** Parses the environment (once per isolate) and exposes it as `c.get('config')`. */
export function config() {
  return createMiddleware<AppEnv>(async function configMiddleware(c, next) {
    c.set('config', getConfig(c.env));
    await next();
  });
}
