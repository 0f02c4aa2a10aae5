import * as z from 'zod/mini';

// Directus's query parameters. They are parsed by src/lib/query.ts (paths, operators, limits, the
// scope's hidden fields); here they are described for the document only, as strings the parser reads.

export const queryParameters = {
  fields: { schema: z.string(), description: 'Comma-separated fields, `folder.*` / `parent.*` to expand the relation.' },
  filter: { schema: z.string(), description: 'A Directus filter as JSON (`{"type":{"_eq":"image/png"}}`), or `filter[field][_op]=value` parameters.' },
  search: { schema: z.string(), description: 'Text searched in the names and descriptions.' },
  sort: { schema: z.string(), description: 'Comma-separated fields, `-` for descending.' },
  limit: { schema: z.string().check(z.regex(/^-?\d+$/)), description: 'Items per page (-1: up to the maximum).' },
  offset: { schema: z.string().check(z.regex(/^\d+$/)), description: 'Items to skip.' },
  page: { schema: z.string().check(z.regex(/^\d+$/)), description: 'A page of `limit` items, from 1.' },
  meta: { schema: z.string(), description: '`total_count`, `filter_count` or `*`.' },
  aggregate: { schema: z.string(), description: 'Directus aggregation, `aggregate[count]=*`, `aggregate[sum]=filesize` (lists only).' },
  groupBy: { schema: z.string(), description: 'Fields an aggregate groups by (lists only).' },
} as const;

export type QueryParameter = keyof typeof queryParameters;

/** The parameters of a list, and of a read (`fields` only). */
export const LIST_QUERY: QueryParameter[] = ['fields', 'filter', 'search', 'sort', 'limit', 'offset', 'page', 'meta', 'aggregate', 'groupBy'];
export const ITEM_QUERY: QueryParameter[] = ['fields'];
