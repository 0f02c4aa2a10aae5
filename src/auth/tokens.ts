import * as z from 'zod/mini';
import type { TokenRow } from '../db/schema';
import { TokensRepository } from '../db/tokens-repository';
import { AppError } from '../errors/app-error';
import { checkedName } from '../files/fields';
import { hex, randomToken } from '../lib/bytes';
import { type TokenJson, tokenInput } from '../schemas/tokens';

export type Scope = 'read' | 'upload' | 'admin';

/** Who a request acts as. `name` is recorded as `uploaded_by`. */
export interface Principal {
  name: string;
  scope: Scope;
  /** When a stored token stops working; null for one that does not expire (and ADMIN_TOKEN). */
  expiresOn: string | null;
}

const RANK: Record<Scope, number> = { read: 1, upload: 2, admin: 3 };

export function allows(principal: Principal, needed: Scope): boolean {
  return RANK[principal.scope] >= RANK[needed];
}

/** 401 without a principal, 403 when its scope is below `needed`. */
export function assertScope(principal: Principal | undefined, needed: Scope): asserts principal is Principal {
  if (!principal) {
    throw new AppError('INVALID_CREDENTIALS', 'Authentication required: send the token as "Authorization: Bearer <token>".', {
      headers: { 'WWW-Authenticate': 'Bearer' },
    });
  }
  if (!allows(principal, needed)) throw new AppError('FORBIDDEN', `This needs a token with the "${needed}" scope; this one has "${principal.scope}".`);
}

export async function hashToken(token: string): Promise<string> {
  return hex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token)));
}

/**
 * The principal of a stored token. Tokens are looked up by their SHA-256, so the comparison never
 * touches the secret itself; a revoked one is refused like an unknown one, an expired one says so.
 */
export async function tokenPrincipal(db: D1Database, token: string): Promise<Principal> {
  const row = await new TokensRepository(db).findByHash(await hashToken(token));
  if (!row || row.revokedOn) throw new AppError('INVALID_CREDENTIALS', 'Invalid user credentials.', { headers: { 'WWW-Authenticate': 'Bearer' } });
  if (row.expiresOn && Date.parse(row.expiresOn) <= Date.now()) {
    throw new AppError('TOKEN_EXPIRED', 'This token has expired.', { headers: { 'WWW-Authenticate': 'Bearer' } });
  }
  return { name: row.name, scope: row.scope, expiresOn: row.expiresOn };
}

export type { TokenJson };

export function tokenJson(row: TokenRow): TokenJson {
  return { id: row.id, name: row.name, scope: row.scope, expires_on: row.expiresOn, created_on: row.createdOn, revoked_on: row.revokedOn };
}

/** Creates a token; its value is returned this once and only its hash is stored. */
export async function createToken(db: D1Database, body: unknown): Promise<TokenJson & { token: string }> {
  const parsed = z.safeParse(tokenInput, body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppError('INVALID_PAYLOAD', `Invalid token: "${issue?.path.join('.') ?? ''}" ${issue?.message ?? ''}. Send { "name", "scope": "read" | "upload" | "admin", "expires_on"? }.`);
  }
  const token = `ea_${randomToken(32)}`;
  const row = await new TokensRepository(db).insert({
    id: crypto.randomUUID(),
    // The name becomes files' `uploaded_by`: a name like any other (no control or bidi characters).
    name: checkedName('name', parsed.data.name, Number.POSITIVE_INFINITY),
    scope: parsed.data.scope,
    tokenHash: await hashToken(token),
    expiresOn: parsed.data.expires_on ? new Date(parsed.data.expires_on).toISOString() : null,
  });
  return { ...tokenJson(row), token };
}
