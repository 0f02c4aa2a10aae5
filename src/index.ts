import { app } from './app';
import type { Bindings } from './env';
import type { DeliveryMessage } from './events/file-events';
import { log, withLogScope } from './lib/log';
import { sweepStorage } from './sweep';
import { deliverBatch } from './webhooks/deliver';

/**
 * The Worker: the HTTP API, the storage sweep on the Cron Trigger of wrangler.toml (under
 * `npm start`, on demand: see the README), and the webhook deliveries of the file-events queue.
 */
export default {
  fetch: app.fetch,
  scheduled(controller, env, ctx) {
    const scope = { requestId: `cron-${controller.scheduledTime}`, storageRetries: 0 };
    ctx.waitUntil(
      withLogScope(scope, async () => {
        const reports = await sweepStorage(env);
        log('info', 'sweep finished', { locations: reports.length, storageRetries: scope.storageRetries });
      }),
    );
  },
  async queue(batch, env) {
    await withLogScope({ requestId: `queue-${batch.messages[0]?.id ?? 'empty'}`, storageRetries: 0 }, () => deliverBatch(batch, env));
  },
} satisfies ExportedHandler<Bindings, DeliveryMessage>;

export { UploadSession } from './uploads/upload-session';
