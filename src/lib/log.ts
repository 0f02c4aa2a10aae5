import { AsyncLocalStorage } from 'node:async_hooks';

/** What one request (or one scheduled run) has to say when it ends. */
export interface LogScope {
  requestId: string;
  /** Storage requests repeated after a 5xx, a SlowDown, a dropped connection or a cut body. */
  storageRetries: number;
}

const scopes = new AsyncLocalStorage<LogScope>();

/** Runs `fn` with `scope` as the current log scope: everything it awaits shares it. */
export function withLogScope<T>(scope: LogScope, fn: () => T): T {
  return scopes.run(scope, fn);
}

/** Counted in the request's log line, so an operator sees a store that is struggling before it fails. */
export function noteStorageRetry(): void {
  const scope = scopes.getStore();
  if (scope) scope.storageRetries++;
}

/**
 * One JSON object per line: Workers Logs indexes its fields, so faults can be found by request id,
 * route, status or storage retries. Messages name keys, ids and codes, never secrets or URLs
 * (a private hash or a signature in a path is a credential).
 */
export function log(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}): void {
  const scope = scopes.getStore();
  const line = JSON.stringify({ level, msg, ...(scope ? { requestId: scope.requestId } : {}), ...fields });
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
}
