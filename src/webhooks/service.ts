import * as z from 'zod/mini';
import type { Config } from '../config';
import type { WebhookAttemptRow, WebhookRow } from '../db/schema';
import { AppError } from '../errors/app-error';
import { checkImportUrl } from '../files/import-guard';
import { type WebhookJson, webhookInput, webhookPatch } from '../schemas/webhooks';
import { newWebhookSecret } from './signing';
import type { WebhooksRepository } from './repository';
import { forgetSubscribers } from './subscribers';

/** Webhooks one deployment may have: every event is one queue message per subscribed webhook. */
export const MAX_WEBHOOKS = 25;

export type { WebhookJson };

export function webhookJson(row: WebhookRow): WebhookJson {
  return { id: row.id, url: row.url, events: row.events, paused: row.paused, created_on: row.createdOn, modified_on: row.modifiedOn };
}

export function attemptJson(row: WebhookAttemptRow) {
  return {
    webhook_id: row.webhookId,
    message_id: row.messageId,
    event: row.event,
    file_id: row.fileId,
    attempt: row.attempt,
    status: row.status,
    outcome: row.outcome,
    error: row.error,
    duration_ms: row.durationMs,
    attempted_on: row.attemptedOn,
  };
}

const SHAPE = 'Send { "url": "https://…", "events": ["files.upload", "files.update", "files.delete"], "paused"?: false }';

function parsed<T>(schema: z.ZodMiniType<T>, body: unknown): T {
  const result = z.safeParse(schema, body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue?.path.length ? `"${issue.path.join('.')}" ` : '';
  // The secret is made here, never sent: a body that sends one is told which fields are not taken.
  const what = issue?.code === 'unrecognized_keys' ? `unknown field ${issue.keys.map((k) => `"${k}"`).join(', ')}` : (issue?.message ?? '');
  throw new AppError('INVALID_PAYLOAD', `Invalid webhook: ${where}${what}. ${SHAPE}.`);
}

/** The URL as the delivery will see it: through the import guard, whose refusal names the list to change. */
function checkedUrl(config: Config, url: string): string {
  try {
    return checkImportUrl(url, config.files.importDenyList, config.files.importAllowList).toString();
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    throw new AppError('INVALID_PAYLOAD', `The webhook URL is refused: ${error.message} A receiver on a private network needs its address in IMPORT_IP_ALLOW_LIST.`);
  }
}

/** Creates a webhook; the answer is the only one that ever carries its secret. */
export async function createWebhook(repo: WebhooksRepository, config: Config, body: unknown): Promise<WebhookJson & { secret: string }> {
  const input = parsed(webhookInput, body);
  const url = checkedUrl(config, input.url);
  if ((await repo.count()) >= MAX_WEBHOOKS) throw new AppError('INVALID_PAYLOAD', `There are already ${MAX_WEBHOOKS} webhooks, the most one deployment may have: delete one first.`);
  const row = await repo.insert({ id: crypto.randomUUID(), url, events: [...new Set(input.events)], paused: input.paused ?? false, secret: newWebhookSecret() });
  forgetSubscribers();
  return { ...webhookJson(row), secret: row.secret };
}

export async function updateWebhook(repo: WebhooksRepository, config: Config, id: string, body: unknown): Promise<WebhookJson> {
  const input = parsed(webhookPatch, body);
  const row = await repo.update(id, {
    ...(input.url === undefined ? {} : { url: checkedUrl(config, input.url) }),
    ...(input.events === undefined ? {} : { events: [...new Set(input.events)] }),
    ...(input.paused === undefined ? {} : { paused: input.paused }),
  });
  forgetSubscribers();
  if (!row) throw notFound(id);
  return webhookJson(row);
}

export async function requireWebhook(repo: WebhooksRepository, id: string): Promise<WebhookRow> {
  const row = await repo.get(id);
  if (!row) throw notFound(id);
  return row;
}

/** Deletes the webhooks named: all exist, or none goes. */
export async function deleteWebhooks(repo: WebhooksRepository, ids: string[]): Promise<void> {
  for (const id of ids) await requireWebhook(repo, id);
  await repo.delete(ids);
  forgetSubscribers();
}

function notFound(id: string): AppError {
  return new AppError('NOT_FOUND', `Webhook "${id.slice(0, 64)}" doesn't exist.`);
}
