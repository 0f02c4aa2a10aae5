import { and, asc, count, desc, eq, gt, gte, inArray, isNotNull, isNull, lt, lte, ne, notInArray, or, type SQL, sql } from 'drizzle-orm';
import type { DrizzleD1Database } from 'drizzle-orm/d1';
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core';
import { type Filter, type Query, QUERY_LIMITS } from '../lib/query';

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
  /** Set when the page stopped early at QUERY_LIMITS.answerBytes: the offset of the next row. */
  nextOffset?: number;
}

/** Bytes a row takes in the answer, as the caller will write it. */
export type RowSize<Row> = (row: Row) => number;

/**
 * Rows read a statement at a time: a record is at most ~100 KiB (the field limits), so this bounds
 * what one read holds, whatever `limit` is.
 */
const READ_CHUNK = 100;

/**
 * One page of `table` for a parsed Directus query: filter, search, sort, limit, offset, meta. Rows
 * are read READ_CHUNK at a time and the page ends early, with `nextOffset`, before the row that
 * would take the answer past QUERY_LIMITS.answerBytes (as `sizeOf` counts it).
 */
export async function listPage<T extends SQLiteTable, F extends string>(
  db: DrizzleD1Database,
  table: T,
  query: Query<F>,
  column: ColumnOf<F>,
  searched: SQLiteColumn[],
  fallbackOrder: SQL[],
  sizeOf: RowSize<T['$inferSelect']>,
): Promise<ListPage<T['$inferSelect']>> {
  const where = whereOf(query, column, searched);
  const order = orderOf(query, column, fallbackOrder);
  const page: ListPage<T['$inferSelect']> = { rows: [] };
  let bytes = 0;
  reading: while (page.rows.length < query.limit) {
    const want = Math.min(READ_CHUNK, query.limit - page.rows.length);
    const offset = query.offset + page.rows.length;
    const chunk = (await db.select().from(table as SQLiteTable).where(where).orderBy(...order).limit(want).offset(offset)) as T['$inferSelect'][];
    for (const row of chunk) {
      bytes += sizeOf(row);
      if (bytes > QUERY_LIMITS.answerBytes && page.rows.length > 0) {
        page.nextOffset = query.offset + page.rows.length;
        break reading;
      }
      page.rows.push(row);
    }
    if (chunk.length < want) break;
  }
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
