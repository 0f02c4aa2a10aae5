import * as z from 'zod/mini';
import { named } from './registry';

/** Ids one batch delete or update may name: each file's change is requests of its own. */
export const MAX_KEYS = 100;

/** Directus's `meta` of a list: the counts asked for with `meta=`, and where a page cut short goes on. */
export const listMeta = named(
  z.partial(z.object({ total_count: z.int(), filter_count: z.int(), next_offset: z.int() })),
  'ListMeta',
  '`total_count` and `filter_count` when `meta` asks for them; `next_offset` when the page stopped early at its byte bound.',
);

/** Directus's list envelope around `item`. */
export function listOf<S extends z.ZodMiniType>(item: S) {
  return z.object({ data: z.array(item), meta: z.optional(listMeta) });
}

/** Directus's item envelope around `item`. */
export function itemOf<S extends z.ZodMiniType>(item: S) {
  return z.object({ data: item });
}

/** One aggregate row: the `groupBy` fields, `count` for `*`, `{ fn: { field: value } }` otherwise. */
export const aggregateRow = named(
  z.record(z.string(), z.union([z.number(), z.string(), z.null(), z.record(z.string(), z.union([z.number(), z.string(), z.null()]))])),
  'AggregateRow',
  'A row of an `aggregate` query.',
);

const keys = z.array(z.string()).check(z.minLength(1), z.maxLength(MAX_KEYS));

/** The ids of a Directus batch delete (validated by keysBody in src/routes/directus-shapes.ts). */
export const keysInput = named(z.union([keys, z.object({ keys })]), 'Keys', `The ids to delete, \`["id", …]\` or \`{ "keys": ["id", …] }\`: 1 to ${MAX_KEYS}, all existing or none goes.`);

/** A Directus batch update (validated by batchUpdateBody): the same change for each id. */
export function batchUpdateOf<S extends z.ZodMiniType>(data: S) {
  return z.object({ keys, data });
}
