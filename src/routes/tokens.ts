import { Hono } from 'hono';
import { createToken, tokenJson } from '../auth/tokens';
import { TokensRepository } from '../db/tokens-repository';
import type { AppEnv } from '../env';
import { AppError } from '../errors/app-error';
import { requireScope } from '../middleware/auth';
import { jsonBody } from './json-body';

/** API tokens (admin only): created with a name, a scope and an optional expiry; revoked by id. */
export const tokensRoutes = new Hono<AppEnv>();
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
