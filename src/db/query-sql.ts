import { and, asc, count, desc, eq, gt, gte, inArray, isNotNull, isNull, lt, lte, ne, notInArray, or, type SQL, sql } from 'drizzle-orm';
import type { DrizzleD1Database } from 'drizzle-orm/d1';
import { alias, type SQLiteColumn, type SQLiteSelect, type SQLiteTable } from 'drizzle-orm/sqlite-core';
import { type Filter, type Query, QUERY_LIMITS } from '../lib/query';
import { type FieldRef, selectionDepth } from '../lib/query-paths';
import { LOOKUP_BATCH } from './batches';
import { type FolderRow, folders } from './schema';

/** A collection's column for an API field name. */
export type ColumnOf<F extends string> = (field: F) => SQLiteColumn;

/** What the query builders need to know of a collection's table. */
export interface CollectionTable<T extends SQLiteTable, F extends string> {
  table: T;
  column: ColumnOf<F>;
  /** The schema property of a field (what a row holds it under). */
  property: (field: F) => string;
  /** The primary key: the last sort key, so that pages read in chunks never skip or repeat a row. */
  id: SQLiteColumn;
  /** The column holding a folder's id, which relation paths follow. */
  relation: SQLiteColumn;
  searched: SQLiteColumn[];
  fallbackOrder: SQL[];
}

/**
 * The folders a relation path reaches, one alias a hop: VIA[0] is the row's folder (`folder` or
 * `parent`), VIA[1] that folder's parent. Joined LEFT on the folders' primary key, so a row without
 * a folder stays, with nulls on the folder's side (as Directus joins a many-to-one).
 */
const VIA = Array.from({ length: QUERY_LIMITS.relationDepth }, (_, i) => alias(folders, `via_${i + 1}`));

function via(depth: number) {
  const table = VIA[depth - 1];
  if (!table) throw new Error(`relation depth ${depth} past QUERY_LIMITS.relationDepth`);
  return table;
}

/** The column of a field reference: the collection's own, or a joined folder's. */
export function refColumn<F extends string>(t: CollectionTable<SQLiteTable, F>, ref: FieldRef<F>): SQLiteColumn {
  return typeof ref === 'string' ? t.column(ref) : via(ref.depth)[ref.field];
}

/** Relation hops a filter follows. */
export function filterDepth<F extends string>(filter: Filter<F> | undefined): number {
  if (!filter) return 0;
  if ('and' in filter) return Math.max(0, ...filter.and.map(filterDepth));
  if ('or' in filter) return Math.max(0, ...filter.or.map(filterDepth));
  return typeof filter.field === 'string' ? 0 : filter.field.depth;
}

/** `SELECT fields FROM table` with the folder joins `depth` hops need, as a builder to go on with. */
export function selectJoined<F extends string>(
  db: DrizzleD1Database,
  fields: Record<string, unknown>,
  t: CollectionTable<SQLiteTable, F>,
  depth: number,
): SQLiteSelect {
  let query = db
    .select(fields as Record<string, SQLiteColumn>)
    .from(t.table)
    .$dynamic() as unknown as SQLiteSelect;
  for (let d = 1; d <= depth; d++) {
    const folder = via(d);
    query = query.leftJoin(folder, eq(folder.id, d === 1 ? t.relation : via(d - 1).parent)) as unknown as SQLiteSelect;
  }
  return query;
}

/** The WHERE of a parsed Directus query: its filter, and its search over the collection's searched columns. */
export function whereOf<F extends string>(query: Query<F>, t: CollectionTable<SQLiteTable, F>): SQL | undefined {
  return and(query.filter ? condition(query.filter, t) : undefined, query.search ? searchCondition(query.search, t.searched) : undefined);
}

/** The ORDER BY of a parsed Directus query (the primary key last), or the collection's fallback. */
function orderOf<F extends string>(query: Query<F>, t: CollectionTable<SQLiteTable, F>): SQL[] {
  if (query.sort.length === 0) return t.fallbackOrder;
  return [...query.sort.map((s) => (s.desc ? desc(refColumn(t, s.field)) : asc(refColumn(t, s.field)))), asc(t.id)];
}

/** One page of rows, and the counts the query's `meta` asked for. */
export interface ListPage<Row> {
  rows: Row[];
  totalCount?: number;
  filterCount?: number;
  /** Set when the page stopped early at QUERY_LIMITS.answerBytes: the offset of the next row. */
  nextOffset?: number;
}

/** A row with the folders its selection expands: `via[0]` its folder, `via[1]` that folder's parent. */
export interface Listed<Row> {
  row: Row;
  via: (FolderRow | null)[];
}

/** Bytes a row takes in the answer, as the caller will write it. */
export type RowSize<Row> = (row: Row) => number;

/**
 * Rows read a statement at a time: a record is at most ~100 KiB (the field limits), so this bounds
 * what one read holds, whatever `limit` is.
 */
const READ_CHUNK = 100;

/** What one read gave: the rows, each with its position in the whole list, and the positions it covered. */
interface Chunk<T> {
  rows: { row: T; at: number }[];
  covered: number;
}

/**
 * Up to `limit` items from `offset`, read `chunk` at a time; the page ends early, with
 * `nextOffset`, before the item that would take the answer past QUERY_LIMITS.answerBytes.
 */
export async function readBounded<T>(
  limit: number,
  offset: number,
  read: (limit: number, offset: number) => Promise<Chunk<T>>,
  sizeOf: RowSize<T>,
  chunk = READ_CHUNK,
): Promise<ListPage<T>> {
  const page: ListPage<T> = { rows: [] };
  let bytes = 0;
  let at = offset;
  while (at < offset + limit) {
    const want = Math.min(chunk, offset + limit - at);
    const { rows, covered } = await read(want, at);
    for (const { row, at: position } of rows) {
      bytes += sizeOf(row);
      if (bytes > QUERY_LIMITS.answerBytes && page.rows.length > 0) {
        page.nextOffset = position;
        return page;
      }
      page.rows.push(row);
    }
    at += covered;
    if (covered < want) break;
  }
  return page;
}

/** A chunk read by LIMIT/OFFSET: the rows are consecutive from `offset`. */
export function consecutive<T>(rows: T[], offset: number): Chunk<T> {
  return { rows: rows.map((row, i) => ({ row, at: offset + i })), covered: rows.length };
}

/** The counts `meta` asks for: every row of the table, and the rows the filter and search keep. */
export async function metaCounts<F extends string>(db: DrizzleD1Database, query: Query<F>, t: CollectionTable<SQLiteTable, F>): Promise<Pick<ListPage<never>, 'totalCount' | 'filterCount'>> {
  const counts: Pick<ListPage<never>, 'totalCount' | 'filterCount'> = {};
  if (query.meta.totalCount) counts.totalCount = (await db.select({ n: count() }).from(t.table).get())?.n ?? 0;
  if (query.meta.filterCount) {
    const [row] = (await selectJoined(db, { n: count() }, t, filterDepth(query.filter)).where(whereOf(query, t))) as { n: number }[];
    counts.filterCount = row?.n ?? 0;
  }
  return counts;
}

/**
 * One page of a collection for a parsed Directus query: filter, search, sort, limit, offset, meta,
 * and the folders `fields` expands, joined in the same statement (never a query per row). A page
 * of one chunk is one statement. A longer one selects its ordered ids once, then reads the rows by
 * primary key LOOKUP_BATCH at a time: the filter, search and sort run once, not once a chunk (each
 * chunk's OFFSET would scan and sort the table again).
 */
export async function listPage<T extends SQLiteTable, F extends string>(
  db: DrizzleD1Database,
  t: CollectionTable<T, F>,
  query: Query<F>,
  sizeOf: RowSize<Listed<T['$inferSelect']>>,
): Promise<ListPage<Listed<T['$inferSelect']>>> {
  const expanded = selectionDepth(query.fields);
  const depth = Math.max(filterDepth(query.filter), ...query.sort.map((s) => (typeof s.field === 'string' ? 0 : s.field.depth)));
  const fields: Record<string, unknown> = { row: t.table };
  for (let d = 1; d <= expanded; d++) fields[`via_${d}`] = via(d);
  const listed = (r: Record<string, unknown>): Listed<T['$inferSelect']> => ({
    row: r.row as T['$inferSelect'],
    via: Array.from({ length: expanded }, (_, i) => (r[`via_${i + 1}`] as FolderRow | null | undefined) ?? null),
  });
  const ordered = <S extends SQLiteSelect>(select: S) =>
    select
      .where(whereOf(query, t))
      .orderBy(...orderOf(query, t))
      .limit(query.limit)
      .offset(query.offset);

  let page: ListPage<Listed<T['$inferSelect']>>;
  if (query.limit <= READ_CHUNK) {
    const rows = (await ordered(selectJoined(db, fields, t, Math.max(depth, expanded)))) as Record<string, unknown>[];
    page = await readBounded(query.limit, query.offset, async () => consecutive(rows.map(listed), query.offset), sizeOf, query.limit);
  } else {
    const ids = ((await ordered(selectJoined(db, { id: t.id }, t, depth))) as { id: string }[]).map((r) => r.id);
    const read = async (limit: number, offset: number) => {
      const batch = ids.slice(offset - query.offset, offset - query.offset + limit);
      if (batch.length === 0) return { rows: [], covered: 0 };
      const rows = (await selectJoined(db, fields, t, expanded).where(inArray(t.id, batch))) as Record<string, unknown>[];
      const byId = new Map(rows.map((r) => [(r.row as { id: string }).id, listed(r)]));
      // A row deleted since the ids were read is left out; the positions after it stay true.
      const found = batch.flatMap((id, i) => {
        const row = byId.get(id);
        return row ? [{ row, at: offset + i }] : [];
      });
      return { rows: found, covered: batch.length };
    };
    page = await readBounded(ids.length, query.offset, read, sizeOf, LOOKUP_BATCH);
  }
  return { ...page, ...(await metaCounts(db, query, t)) };
}

/** The folders `depth` hops up from folder `id`, in one statement: `[id's row, its parent, …]`. */
export async function folderChain(db: DrizzleD1Database, id: string | null, depth: number): Promise<(FolderRow | null)[]> {
  if (id === null || depth === 0) return [];
  const fields: Record<string, unknown> = {};
  for (let d = 1; d <= depth; d++) fields[`via_${d}`] = via(d);
  let query = db
    .select(fields as Record<string, SQLiteColumn>)
    .from(via(1))
    .$dynamic() as unknown as SQLiteSelect;
  for (let d = 2; d <= depth; d++) query = query.leftJoin(via(d), eq(via(d).id, via(d - 1).parent)) as unknown as SQLiteSelect;
  const [row] = (await query.where(eq(via(1).id, id)).limit(1)) as Record<string, FolderRow | null>[];
  return Array.from({ length: depth }, (_, i) => row?.[`via_${i + 1}`] ?? null);
}

/**
 * Case-insensitive (ASCII, as SQLite's LIKE) substring match. instr, not LIKE: D1 caps a LIKE pattern
 * at 50 bytes, and the user's text is matched literally with no wildcards to escape.
 */
function containsIgnoringCase(col: SQLiteColumn, text: string): SQL {
  return sql`instr(lower(${col}), lower(${text})) > 0`;
}

function condition<F extends string>(filter: Filter<F>, t: CollectionTable<SQLiteTable, F>): SQL | undefined {
  if ('and' in filter) return and(...filter.and.map((f) => condition(f, t)));
  if ('or' in filter) return or(...filter.or.map((f) => condition(f, t)));
  const col = refColumn(t, filter.field);
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
