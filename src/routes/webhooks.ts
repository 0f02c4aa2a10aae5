import { type Context, Hono } from 'hono';
import type { AppEnv } from '../env';
import { requireScope } from '../middleware/auth';
import { WebhooksRepository } from '../webhooks/repository';
import { attemptJson, createWebhook, deleteWebhooks, requireWebhook, updateWebhook, webhookJson } from '../webhooks/service';
import { keysBody } from './directus-shapes';
import { jsonBody } from './json-body';

/**
 * Webhooks for file events (admin only), as Directus's collections: the secret is in the answer to
 * POST and nowhere else. `GET /webhooks/:id/attempts` lists the last delivery attempts, newest first.
 */
export const webhooksRoutes = new Hono<AppEnv>();
webhooksRoutes.use(requireScope('admin'));

// The primary, not the request's replica session: a webhook just created or paused is seen at once.
const repo = (c: Context<AppEnv>) => new WebhooksRepository(c.env.DB);

webhooksRoutes.get('/', async (c) => c.json({ data: (await repo(c).list()).map(webhookJson) }));

webhooksRoutes.get('/:id', async (c) => c.json({ data: webhookJson(await requireWebhook(repo(c), c.req.param('id'))) }));

webhooksRoutes.get('/:id/attempts', async (c) => {
  const { id } = await requireWebhook(repo(c), c.req.param('id'));
  return c.json({ data: (await repo(c).attempts(id)).map(attemptJson) });
});

webhooksRoutes.post('/', async (c) => c.json({ data: await createWebhook(repo(c), c.get('config'), await jsonBody(c)) }));

webhooksRoutes.patch('/:id', async (c) => c.json({ data: await updateWebhook(repo(c), c.get('config'), c.req.param('id'), await jsonBody(c)) }));

webhooksRoutes.delete('/:id', async (c) => {
  await deleteWebhooks(repo(c), [c.req.param('id')]);
  return c.body(null, 204);
});

/** DELETE /webhooks with `["id", …]` or `{ "keys": ["id", …] }` (Directus): all exist, or none goes. */
webhooksRoutes.delete('/', async (c) => {
  await deleteWebhooks(repo(c), await keysBody(c));
  return c.body(null, 204);
});
