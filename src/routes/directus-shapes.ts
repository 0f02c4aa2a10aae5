import type { Context } from 'hono';
import type { AppEnv } from '../env';
import type { AggregateRow } from '../db/aggregate-sql';
import type { ListPage, Listed, RowSize } from '../db/query-sql';
import type { FolderRow } from '../db/schema';
import { AppError } from '../errors/app-error';
import { toFolderRecord } from '../folders/record';
import type { Query } from '../lib/query';
import type { Aggregation } from '../lib/query-aggregate';
import type { Selection } from '../lib/query-paths';
import { MAX_KEYS } from '../schemas/common';
import { jsonBody } from './json-body';

// Directus's request and response shapes that several collections share.


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

/** A list or an aggregate, read through one repository. */
export interface Lister<F extends string, Row> {
  list(query: Query<F>, sizeOf: RowSize<Listed<Row>>): Promise<ListPage<Listed<Row>>>;
  aggregate(query: Query<F>, aggregation: Aggregation<F>, sizeOf: RowSize<AggregateRow<Row>>): Promise<ListPage<AggregateRow<Row>>>;
}

/**
 * The answer to a list query: Directus's list envelope of records (with the folders `fields`
 * expands), or of aggregate rows (`{ data: [{ count: 12 }] }`, `[{ type, count: { id: 3 } }]`).
 * `record` makes a row's record with only the named fields (all when undefined).
 */
export async function listAnswer<F extends string, Row>(
  query: Query<F>,
  relation: F,
  repo: Lister<F, Row>,
  record: (row: Row, fields: F[] | undefined) => Record<string, unknown>,
): Promise<ReturnType<typeof listEnvelope>> {
  const aggregation = query.aggregate;
  if (aggregation) {
    const shape = (r: AggregateRow<Row>) => aggregateRecord(record(r.group as Row, aggregation.groupBy), aggregation, r.values);
    const result = await repo.aggregate(query, aggregation, (r) => jsonBytes(shape(r)));
    return listEnvelope(result.rows.map(shape), result);
  }
  const shape = (r: Listed<Row>) => withRelated(record(r.row, query.fields?.fields), query.fields, relation, r.via);
  const result = await repo.list(query, (r) => jsonBytes(shape(r)));
  return listEnvelope(result.rows.map(shape), result);
}

/**
 * `record` with its relation field expanded as `selection` asks (`folder.*`, `folder.parent.name`):
 * the folder's record with the fields named at that level, or null when the row has no folder.
 * `via[depth]` is the folder at each hop.
 */
export function withRelated(record: Record<string, unknown>, selection: Selection<string> | undefined, relation: string, via: (FolderRow | null)[], depth = 0): Record<string, unknown> {
  const related = selection?.related;
  if (!related) return record;
  const folder = via[depth];
  const expanded = folder ? withRelated(pick(toFolderRecord(folder), related.fields), related, 'parent', via, depth + 1) : null;
  return { ...record, [relation]: expanded };
}

/** `record` with only `fields` (every field when undefined); names come from the collection's allow-list. */
export function pick<R extends object>(record: R, fields: readonly string[] | undefined): Record<string, unknown> {
  if (!fields) return { ...(record as Record<string, unknown>) };
  return Object.fromEntries(fields.map((f) => [f, (record as Record<string, unknown>)[f]]));
}

/** An aggregate row as Directus answers it: the group's fields, `count` for `*`, `{ fn: { field: value } }` otherwise. */
function aggregateRecord(group: Record<string, unknown>, aggregation: Aggregation<string>, values: (number | string | null)[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...group };
  aggregation.terms.forEach((term, i) => {
    const value = values[i] ?? null;
    if (term.field === '*') out[term.fn] = value;
    else out[term.fn] = { ...(out[term.fn] as Record<string, unknown> | undefined), [term.field]: value };
  });
  return out;
}
