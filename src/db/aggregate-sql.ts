import { asc, desc, type SQL, sql } from 'drizzle-orm';
import type { DrizzleD1Database } from 'drizzle-orm/d1';
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { Query } from '../lib/query';
import type { AggregateFunction, Aggregation } from '../lib/query-aggregate';
import { type CollectionTable, filterDepth, type ListPage, consecutive, metaCounts, readBounded, refColumn, type RowSize, selectJoined, whereOf } from './query-sql';

/** One answer row of an aggregate: its group's values (as the row holds them) and each term's result. */
export interface AggregateRow<Row> {
  group: Partial<Row>;
  values: (number | string | null)[];
}

/** The SQL of one aggregate function: the function comes from the closed set, the column from the allow-list. */
function aggregateSql(fn: AggregateFunction, col: SQLiteColumn | undefined): SQL {
  if (!col) return sql`count(*)`;
  switch (fn) {
    case 'count':
      return sql`count(${col})`;
    case 'countDistinct':
      return sql`count(distinct ${col})`;
    case 'sum':
      return sql`sum(${col})`;
    case 'sumDistinct':
      return sql`sum(distinct ${col})`;
    case 'avg':
      return sql`avg(${col})`;
    case 'avgDistinct':
      return sql`avg(distinct ${col})`;
    case 'min':
      return sql`min(${col})`;
    case 'max':
      return sql`max(${col})`;
  }
}

/**
 * A parsed Directus aggregate in one statement a chunk: `SELECT <groupBy columns>, <aggregates>
 * … WHERE <filter, search> GROUP BY <groupBy>`, the groups ordered by `sort` (groupBy fields only)
 * then every groupBy field, paged by `limit`/`offset` and bounded by QUERY_LIMITS.answerBytes as
 * lists are. Without `groupBy` the answer is one row.
 */
export async function aggregatePage<T extends SQLiteTable, F extends string>(
  db: DrizzleD1Database,
  t: CollectionTable<T, F>,
  query: Query<F>,
  aggregation: Aggregation<F>,
  sizeOf: RowSize<AggregateRow<T['$inferSelect']>>,
): Promise<ListPage<AggregateRow<T['$inferSelect']>>> {
  const fields: Record<string, unknown> = {};
  aggregation.groupBy.forEach((f, i) => (fields[`g_${i}`] = t.column(f)));
  aggregation.terms.forEach((term, i) => (fields[`a_${i}`] = aggregateSql(term.fn, term.field === '*' ? undefined : t.column(term.field))));
  const groups = aggregation.groupBy.map((f) => t.column(f));
  // Sort names groupBy fields only (see parseQuery); every group field follows, so chunks are stable.
  const order = [...query.sort.map((s) => (s.desc ? desc : asc)(refColumn(t, s.field))), ...groups.map((g) => asc(g))];
  const where = whereOf(query, t);
  const read = async (limit: number, offset: number) => {
    let statement = selectJoined(db, fields, t, filterDepth(query.filter)).where(where);
    if (groups.length > 0) statement = statement.groupBy(...groups).orderBy(...order);
    const rows = (await statement.limit(limit).offset(offset)) as Record<string, unknown>[];
    const shaped = rows.map((r) => {
      const group: Record<string, unknown> = {};
      aggregation.groupBy.forEach((f, i) => (group[t.property(f)] = r[`g_${i}`]));
      return { group: group as Partial<T['$inferSelect']>, values: aggregation.terms.map((_, i) => (r[`a_${i}`] as number | string | null | undefined) ?? null) };
    });
    return consecutive(shaped, offset);
  };
  const page = await readBounded(query.limit, query.offset, read, sizeOf);
  return { ...page, ...(await metaCounts(db, query, t)) };
}
