import { and, asc, count, desc, eq, gt, gte, inArray, isNotNull, isNull, lt, lte, ne, notInArray, or, type SQL, sql } from 'drizzle-orm';
import type { DrizzleD1Database } from 'drizzle-orm/d1';
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { Filter, Query } from '../lib/query';

/** A collection's column for an API field name. */
export type ColumnOf<F extends string> = (field: F) => SQLiteColumn;

/** The WHERE of a parsed Directus query: its filter, and its search over `searched` columns. */
function whereOf<F extends string>(query: Query<F>, column: ColumnOf<F>, searched: SQLiteColumn[]): SQL | undefined {
  return and(query.filter ? condition(query.filter, column) : undefined, query.search ? searchCondition(query.search, searched) : undefined);
}

/** The ORDER BY of a parsed Directus query, or `fallback` when it names no sort. */
function orderOf<F extends string>(query: Query<F>, column: ColumnOf<F>, fallback: SQL[]): SQL[] {
  return query.sort.length > 0 ? query.sort.map((s) => (s.desc ? desc(column(s.field)) : asc(column(s.field)))) : fallback;
}

/** One page of rows, and the counts the query's `meta` asked for. */
export interface ListPage<Row> {
  rows: Row[];
  totalCount?: number;
  filterCount?: number;
}

/** One page of `table` for a parsed Directus query: filter, search, sort, limit, offset, meta. */
export async function listPage<T extends SQLiteTable, F extends string>(
  db: DrizzleD1Database,
  table: T,
  query: Query<F>,
  column: ColumnOf<F>,
  searched: SQLiteColumn[],
  fallbackOrder: SQL[],
): Promise<ListPage<T['$inferSelect']>> {
  const where = whereOf(query, column, searched);
  const rows = await db.select().from(table as SQLiteTable).where(where).orderBy(...orderOf(query, column, fallbackOrder)).limit(query.limit).offset(query.offset);
  const page: ListPage<T['$inferSelect']> = { rows: rows as T['$inferSelect'][] };
  if (query.meta.totalCount) page.totalCount = (await db.select({ n: count() }).from(table as SQLiteTable).get())?.n ?? 0;
  if (query.meta.filterCount) page.filterCount = (await db.select({ n: count() }).from(table as SQLiteTable).where(where).get())?.n ?? 0;
  return page;
}

/**
 * Case-insensitive (ASCII, as SQLite's LIKE) substring match. instr, not LIKE: D1 caps a LIKE pattern
 * at 50 bytes, and the user's text is matched literally with no wildcards to escape.
 */
function containsIgnoringCase(col: SQLiteColumn, text: string): SQL {
  return sql`instr(lower(${col}), lower(${text})) > 0`;
}

function condition<F extends string>(filter: Filter<F>, column: ColumnOf<F>): SQL | undefined {
  if ('and' in filter) return and(...filter.and.map((f) => condition(f, column)));
  if ('or' in filter) return or(...filter.or.map((f) => condition(f, column)));
  const col = column(filter.field);
  const v = filter.value;
  const text = String(v);
  switch (filter.op) {
    case '_eq':
      return v === null ? isNull(col) : eq(col, v);
    case '_neq':
      return v === null ? isNotNull(col) : or(ne(col, v), isNull(col));
    case '_in':
      return inArray(col, v as unknown[]);
    case '_nin':
      return notInArray(col, v as unknown[]);
    case '_contains':
      return sql`instr(${col}, ${text}) > 0`;
    case '_ncontains':
      return or(isNull(col), sql`instr(${col}, ${text}) = 0`);
    case '_icontains':
      return containsIgnoringCase(col, text);
    case '_starts_with':
      return sql`substr(${col}, 1, length(${text})) = ${text}`;
    case '_ends_with':
      return sql`substr(${col}, -length(${text})) = ${text}`;
    case '_gt':
      return gt(col, v);
    case '_gte':
      return gte(col, v);
    case '_lt':
      return lt(col, v);
    case '_lte':
      return lte(col, v);
    case '_null':
      return v ? isNull(col) : isNotNull(col);
    case '_nnull':
      return v ? isNotNull(col) : isNull(col);
  }
}

function searchCondition(search: string, searched: SQLiteColumn[]): SQL | undefined {
  return or(...searched.map((col) => containsIgnoringCase(col, search)));
}
