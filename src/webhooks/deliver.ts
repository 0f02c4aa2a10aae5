import { type Config, getConfig } from '../config';
import { AppError } from '../errors/app-error';
import type { Bindings } from '../env';
import type { DeliveryMessage } from '../events/file-events';
import { checkImportUrl } from '../files/import-guard';
import { log } from '../lib/log';
import { type NewAttempt, WebhooksRepository } from './repository';
import { signedHeaders } from './signing';

/** A receiver that has not answered within this long has failed the attempt. */
export const DELIVERY_TIMEOUT_MS = 10_000;

/**
 * Seconds to wait after each failed attempt: Standard Webhooks' suggested schedule (5 s, 5 min,
 * 30 min, 2 h, 5 h, 10 h, 10 h), so a delivery is tried 8 times over about a day before it is
 * parked in the dead-letter queue. Each delay is within Queues' 12-hour limit.
 */
export const RETRY_DELAYS_SECONDS = [5, 300, 1800, 7200, 18000, 36000, 36000] as const;
export const MAX_ATTEMPTS = RETRY_DELAYS_SECONDS.length + 1;

/** The queue consumer: each message is one event for one webhook, delivered independently of the rest. */
export async function deliverBatch(batch: MessageBatch<DeliveryMessage>, env: Bindings): Promise<void> {
  const config = getConfig(env);
  const repo = new WebhooksRepository(env.DB);
  await Promise.all(batch.messages.map((message) => deliverMessage(message, { config, repo, env })));
}

interface DeliveryDeps {
  config: Config;
  repo: WebhooksRepository;
  env: Pick<Bindings, 'WEBHOOK_DEAD_LETTERS'>;
}

/**
 * Signs and POSTs one event to its webhook. A 2xx answer is delivered; anything else (another
 * status, no answer within DELIVERY_TIMEOUT_MS, a URL the guard refuses now) is retried on the
 * RETRY_DELAYS_SECONDS schedule with the same `webhook-id`, and after MAX_ATTEMPTS sent to the
 * dead-letter queue. A webhook deleted or paused since the event was enqueued gets nothing. Every
 * attempt is recorded for the webhook's admins.
 */
export async function deliverMessage(message: Message<DeliveryMessage>, deps: DeliveryDeps): Promise<void> {
  const { id, webhook: webhookId, event } = message.body;
  const hook = await deps.repo.get(webhookId);
  if (!hook || hook.paused) {
    message.ack();
    return;
  }
  const started = Date.now();
  const result = await post(deps.config, hook.url, hook.secret, id, JSON.stringify(event));
  const delivered = result.status !== null && result.status >= 200 && result.status < 300;
  const last = message.attempts >= MAX_ATTEMPTS;
  const attempt: NewAttempt = {
    webhookId,
    messageId: id,
    event: event.type,
    fileId: event.data.id,
    attempt: message.attempts,
    status: result.status,
    outcome: delivered ? 'delivered' : last ? 'dead' : 'retrying',
    error: delivered ? null : (result.error ?? `The receiver answered ${result.status}; only a 2xx answer counts as delivered.`),
    durationMs: Date.now() - started,
    attemptedOn: new Date(started).toISOString(),
  };
  await deps.repo.recordAttempt(attempt).catch((error: Error) => log('error', 'webhook attempt not recorded', { webhook: webhookId, message: id, reason: error.message }));
  if (delivered) message.ack();
  else if (!last) message.retry({ delaySeconds: RETRY_DELAYS_SECONDS[message.attempts - 1] ?? RETRY_DELAYS_SECONDS[RETRY_DELAYS_SECONDS.length - 1] });
  else await park(message, deps);
}

/** After the last attempt: to the dead-letter queue, or back to the queue's own retries if that fails. */
async function park(message: Message<DeliveryMessage>, deps: DeliveryDeps): Promise<void> {
  try {
    if (!deps.env.WEBHOOK_DEAD_LETTERS) throw new Error('no WEBHOOK_DEAD_LETTERS binding');
    await deps.env.WEBHOOK_DEAD_LETTERS.send(message.body);
    message.ack();
    log('warn', 'webhook delivery dead-lettered', { webhook: message.body.webhook, message: message.body.id, attempts: message.attempts });
  } catch (error) {
    // Queues moves the message to the dead-letter queue itself once its max_retries are spent.
    log('error', 'webhook delivery not parked', { webhook: message.body.webhook, message: message.body.id, reason: (error as Error).message });
    message.retry({ delaySeconds: RETRY_DELAYS_SECONDS[RETRY_DELAYS_SECONDS.length - 1] });
  }
}

/** One attempt: the HTTP status, or why there was none. Redirects are not followed (a 3xx fails). */
async function post(config: Config, url: string, secret: string, id: string, body: string): Promise<{ status: number | null; error?: string }> {
  let target: URL;
  try {
    target = checkImportUrl(url, config.files.importDenyList, config.files.importAllowList);
  } catch (error) {
    if (error instanceof AppError) return { status: null, error: `The URL is refused now: ${error.message}` };
    throw error;
  }
  const headers = { 'content-type': 'application/json', 'user-agent': 'edge-assets-webhooks', ...(await signedHeaders(secret, id, Math.floor(Date.now() / 1000), body)) };
  try {
    const response = await fetch(target, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS) });
    await response.body?.cancel();
    return { status: response.status };
  } catch (error) {
    const timedOut = (error as Error).name === 'TimeoutError';
    return { status: null, error: timedOut ? `No answer within ${DELIVERY_TIMEOUT_MS / 1000} s.` : `The receiver could not be reached: ${(error as Error).message}.` };
  }
}
