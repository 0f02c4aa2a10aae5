import { Hono } from 'hono';
import { createToken, type Principal, tokenJson } from '../auth/tokens';
import { TokensRepository } from '../db/tokens-repository';
import type { AppEnv } from '../env';
import { AppError } from '../errors/app-error';
import { principal, requireScope } from '../middleware/auth';
import { jsonBody } from './json-body';

/**
 * API tokens (admin only): created with a name, a scope and an optional expiry; revoked by id.
 * `GET /tokens/me` answers any valid token with its own name, scope and expiry, so a client (the
 * file library page) offers only what the token may do. It is registered before the admin check.
 */
export const tokensRoutes = new Hono<AppEnv>();
tokensRoutes.get('/me', requireScope('read'), async (c) => {
  const { name, scope, expiresOn } = (await principal(c)) as Principal;
  return c.json({ data: { name, scope, expires_on: expiresOn } });
});
tokensRoutes.use(requireScope('admin'));

tokensRoutes.get('/', async (c) => c.json({ data: (await new TokensRepository(c.env.DB).list()).map(tokenJson) }));

tokensRoutes.post('/', async (c) => {
  const body = await jsonBody(c);
  return c.json({ data: await createToken(c.env.DB, body) });
});

tokensRoutes.delete('/:id', async (c) => {
  if (!(await new TokensRepository(c.env.DB).revoke(c.req.param('id')))) throw new AppError('NOT_FOUND', 'Token not found.');
  return c.body(null, 204);
});
