import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { AppError } from '../errors/app-error';
import { concat } from '../lib/bytes';
import { parseJson } from '../lib/safe-keys';

/** JSON bodies are edits, settings and lists of ids: this is far beyond any of them, and bounds memory. */
export const MAX_JSON_BYTES = 1024 * 1024;

/**
 * The request's JSON body, or a 400 INVALID_PAYLOAD that says why (malformed, or a forbidden key
 * such as `__proto__`). A body over MAX_JSON_BYTES is a 413 before more of it is read.
 */
export async function jsonBody(c: Context<AppEnv>): Promise<unknown> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = c.req.raw.body?.getReader();
  for (;;) {
    const next = reader ? await reader.read() : { done: true as const };
    if (next.done) break;
    size += next.value.byteLength;
    if (size > MAX_JSON_BYTES) {
      await reader?.cancel().catch(() => {});
      throw new AppError('CONTENT_TOO_LARGE', `A JSON body may be at most ${MAX_JSON_BYTES} bytes.`);
    }
    chunks.push(next.value);
  }
  const text = new TextDecoder().decode(concat(chunks));
  return parseJson(text, 'INVALID_PAYLOAD', 'the request body', 'The request body must be valid JSON.');
}
