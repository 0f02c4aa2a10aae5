import type { Principal } from './auth/tokens';
import type { Config } from './config';
import type { UploadSession } from './uploads/upload-session';

/** The Worker's bindings: D1 plus the string variables that `src/config` parses. */
export interface Bindings {
  DB: D1Database;
  /** One Durable Object per TUS upload. */
  UPLOADS: DurableObjectNamespace<UploadSession>;
  /** Cloudflare Images, for ASSETS_TRANSFORM_ENGINE=images. */
  IMAGES?: ImagesBinding;
  /** Workers Static Assets (dist/site): the file library page's document is served through it. */
  ASSETS?: Fetcher;
  /** File events for webhooks (src/events), consumed by this Worker's `queue` handler. */
  WEBHOOK_EVENTS?: Queue<import('./events/file-events').DeliveryMessage>;
  /** Where a delivery goes after its last failed attempt. */
  WEBHOOK_DEAD_LETTERS?: Queue<import('./events/file-events').DeliveryMessage>;
  [variable: string]: unknown;
}

export interface AppEnv {
  Bindings: Bindings;
  /** `principal`: undefined until looked up, null for a request without a token. */
  /** `db`: this request's D1 session (src/middleware/d1-session.ts). */
  Variables: { config: Config; requestId: string; principal: Principal | null | undefined; db: D1Database };
}
