import type { Config } from './config';
import type { UploadSession } from './uploads/upload-session';

/** The Worker's bindings: D1 plus the string variables that `src/config` parses. */
export interface Bindings {
  DB: D1Database;
  /** One Durable Object per TUS upload. */
  UPLOADS: DurableObjectNamespace<UploadSession>;
  [variable: string]: unknown;
}

export interface AppEnv {
  Bindings: Bindings;
  Variables: { config: Config; requestId: string };
}
