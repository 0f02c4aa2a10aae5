import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env';
import { AppError } from '../errors/app-error';
import { timingSafeEqualString } from '../lib/timing-safe';

const BEARER_CHALLENGE = { 'WWW-Authenticate': 'Bearer' };

/** The bearer token of a request: `Authorization: Bearer <token>` or `?access_token=` (Directus). */
export function requestToken(c: Context<AppEnv>): string | undefined {
  const header = c.req.header('authorization');
  if (header) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m?.[1] ?? '';
  }
  return c.req.query('access_token') ?? undefined;
}

/** True when the request carries the admin token; throws 401 for a wrong one. */
export async function isAdmin(c: Context<AppEnv>): Promise<boolean> {
  const token = requestToken(c);
  if (token === undefined) return false;
  const expected = c.get('config').adminToken;
  if (expected !== undefined && (await timingSafeEqualString(token, expected))) return true;
  throw new AppError('INVALID_CREDENTIALS', 'Invalid user credentials.', { headers: BEARER_CHALLENGE });
}

/**
 * Requires the admin token. A missing token and a wrong one both answer 401; neither says anything
 * about the expected value.
 */
export function requireAdmin() {
  return createMiddleware<AppEnv>(async function requireAdminMiddleware(c, next) {
    if (!(await isAdmin(c))) {
      throw new AppError('INVALID_CREDENTIALS', 'Authentication required: send the token as "Authorization: Bearer <token>".', {
        headers: BEARER_CHALLENGE,
      });
    }
    await next();
  });
}
