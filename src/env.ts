import type { Config } from './config';

/** The Worker's bindings: D1 plus the string variables that `src/config` parses. */
export interface Bindings {
  DB: D1Database;
  [variable: string]: unknown;
}

export interface AppEnv {
  Bindings: Bindings;
  Variables: { config: Config; requestId: string };
}
