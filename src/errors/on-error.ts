import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { AppEnv } from '../env';
import { log } from '../lib/log';
import { AppError } from './app-error';

/** Directus's error envelope. */
export function errorBody(error: AppError) {
  return { errors: [{ message: error.message, extensions: { code: error.code, ...error.extensions } }] };
}

export function errorResponse(c: Context<AppEnv>, error: AppError): Response {
  return c.json(errorBody(error), error.status as 400, error.headers);
}

/**
 * The one place errors become responses. Anything that is not an AppError is logged with the
 * request id and answered as a generic 500: no stack, no internal message reaches the client.
 */
export function onError(error: Error, c: Context<AppEnv>): Response {
  if (error instanceof AppError) {
    if (error.status >= 500) log('error', error.message, { code: error.code });
    return errorResponse(c, error);
  }
  if (error instanceof HTTPException && error.status < 500) {
    return errorResponse(c, new AppError(error.status === 404 ? 'ROUTE_NOT_FOUND' : 'INVALID_PAYLOAD', error.message));
  }
  log('error', 'unexpected error', { error: String(error), stack: error.stack });
  return errorResponse(c, new AppError('INTERNAL', 'An unexpected error occurred. The request id is in the X-Request-Id header.'));
}

export function notFound(c: Context<AppEnv>): Response {
  return errorResponse(c, new AppError('ROUTE_NOT_FOUND', `Route ${c.req.method} ${new URL(c.req.url).pathname} doesn't exist.`));
}
