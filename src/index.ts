import { app } from './app';
import type { Bindings } from './env';
import { log, withLogScope } from './lib/log';
import { sweepStorage } from './sweep';

/**
 * The Worker: the HTTP API, and the storage sweep on the Cron Trigger of wrangler.toml (under
 * `npm start`, on demand: see the README).
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
} satisfies ExportedHandler<Bindings>;

export { UploadSession } from './uploads/upload-session';
