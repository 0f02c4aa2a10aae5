import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { AppError } from '../errors/app-error';

/** The request's JSON body, or a 400 INVALID_PAYLOAD that says so. */
export async function jsonBody(c: Context<AppEnv>): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    throw new AppError('INVALID_PAYLOAD', 'The request body must be valid JSON.');
  }
}
