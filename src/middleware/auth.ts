import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { FILE_ACTS, type FileAct } from '../auth/policy';
import { assertScope, type Principal, type Scope, tokenPrincipal } from '../auth/tokens';
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

/**
 * Who the request acts as: undefined without a token; ADMIN_TOKEN (compared in constant time) is
 * the `admin` principal; any other token must be a live stored one. A wrong, revoked or expired
 * token is a 401 that says nothing about the expected value.
 */
export async function principal(c: Context<AppEnv>): Promise<Principal | undefined> {
  const known = c.get('principal');
  if (known !== undefined) return known ?? undefined;
  const token = requestToken(c);
  let found: Principal | undefined;
  if (token !== undefined) {
    const admin = c.get('config').adminToken;
    if (admin !== undefined && (await timingSafeEqualString(token, admin))) found = { name: 'admin', scope: 'admin', expiresOn: null };
    else if (token === '') throw new AppError('INVALID_CREDENTIALS', 'Invalid user credentials.', { headers: BEARER_CHALLENGE });
    else found = await tokenPrincipal(c.env.DB, token);
  }
  c.set('principal', found ?? null);
  return found;
}

/** Requires a token with at least `scope` (read < upload < admin): 401 without one, 403 when too weak. */
export function requireScope(scope: Scope) {
  return createMiddleware<AppEnv>(async function requireScopeMiddleware(c, next) {
    assertScope(await principal(c), scope);
    await next();
  });
}

/** Requires what the file policy asks for `act` (src/auth/policy.ts). */
export function requireAct(act: FileAct) {
  return requireScope(FILE_ACTS[act]);
}
