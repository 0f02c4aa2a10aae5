import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { AppError } from '../errors/app-error';
import { jsonBody } from './json-body';

// Directus's request and response shapes that several collections share.

/** Ids one batch delete or update may name: each file's change is requests of its own. */
export const MAX_KEYS = 100;

/** The ids of a Directus batch delete: `["id", …]` or `{ "keys": ["id", …] }`, at most MAX_KEYS, each once. */
export async function keysBody(c: Context<AppEnv>): Promise<string[]> {
  const body = await jsonBody(c);
  const keys = Array.isArray(body) ? body : (body as { keys?: unknown } | null)?.keys;
  return checkedKeys(keys, 'delete', 'Send the ids to delete as ["id", …] or { "keys": ["id", …] }.');
}

/** A Directus batch update, `{ "keys": ["id", …], "data": { field: value, … } }`: the same change for each id. */
export async function batchUpdateBody(c: Context<AppEnv>): Promise<{ keys: string[]; data: Record<string, unknown> }> {
  const body = (await jsonBody(c)) as { keys?: unknown; data?: unknown } | null;
  const how = 'Send { "keys": ["id", …], "data": { "folder": "…", … } }.';
  const keys = checkedKeys(body?.keys, 'update', how);
  const data = body?.data;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new AppError('INVALID_PAYLOAD', `"data" must be an object of fields to change. ${how}`);
  return { keys, data: data as Record<string, unknown> };
}

function checkedKeys(keys: unknown, batch: 'delete' | 'update', how: string): string[] {
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === 'string')) throw new AppError('INVALID_PAYLOAD', how);
  if (keys.length > MAX_KEYS) throw new AppError('INVALID_PAYLOAD', `A batch ${batch} may name at most ${MAX_KEYS} ids; send the rest in another request.`);
  return [...new Set(keys as string[])];
}

/** Bytes of `value` as JSON (UTF-8): what a row adds to a list answer, comma included. */
export function jsonBytes(value: unknown): number {
  return new TextEncoder().encode(JSON.stringify(value)).byteLength + 1;
}

/**
 * Directus's list envelope: `{ data }`, with `meta` when total_count or filter_count was asked for,
 * and `meta.next_offset` when the page stopped early at its byte bound (QUERY_LIMITS.answerBytes).
 */
export function listEnvelope<T>(
  data: T[],
  counts: { totalCount?: number; filterCount?: number; nextOffset?: number },
): { data: T[]; meta?: Record<string, number> } {
  const meta: Record<string, number> = {};
  if (counts.totalCount !== undefined) meta.total_count = counts.totalCount;
  if (counts.filterCount !== undefined) meta.filter_count = counts.filterCount;
  if (counts.nextOffset !== undefined) meta.next_offset = counts.nextOffset;
  return Object.keys(meta).length > 0 ? { data, meta } : { data };
}
