import { AppError } from '../errors/app-error';
import { assertSafeKey, dict, parseJson } from '../lib/safe-keys';
import { type FileField, isFileField } from '../files/record';
import { type FolderField, isFolderField } from '../folders/record';
import { type Aggregation, parseAggregation } from './query-aggregate';
import { type FieldCheck, type FieldRef, RELATION_DEPTH, relationAt, parseSelection, resolvePath, type Selection } from './query-paths';

/** Directus filter operators supported on every collection's fields. */
export const OPERATORS = [
  '_eq',
  '_neq',
  '_in',
  '_nin',
  '_contains',
  '_ncontains',
  '_icontains',
  '_starts_with',
  '_ends_with',
  '_gt',
  '_gte',
  '_lt',
  '_lte',
  '_null',
  '_nnull',
] as const;
export type Operator = (typeof OPERATORS)[number];

export type Filter<F extends string = FileField> =
  | { and: Filter<F>[] }
  | { or: Filter<F>[] }
  | { field: FieldRef<F>; op: Operator; value: unknown };

/** Directus's query parameters for a collection whose fields are F. */
export interface Query<F extends string> {
  limit: number;
  offset: number;
  sort: { field: FieldRef<F>; desc: boolean }[];
  search: string | undefined;
  filter: Filter<F> | undefined;
  /** Undefined: every field, no relation expanded. */
  fields: Selection<F> | undefined;
  /** Set by `aggregate` or `groupBy`: the answer is the aggregates, not the records. */
  aggregate: Aggregation<F> | undefined;
  meta: { totalCount: boolean; filterCount: boolean };
}

export type FileQuery = Query<FileField>;
export type FolderQuery = Query<FolderField>;

/** What a query may name in a collection. */
export interface Collection<F extends string> {
  known: (name: string) => name is F;
  /** The field holding a folder's id, which dotted paths follow (`folder.name`, `parent.name`). */
  relation: F;
  /** Fields `sum`, `avg` (and their Distinct forms), `min` and `max` take. */
  numeric: ReadonlySet<F>;
  /** Other fields `min` and `max` take (timestamps). */
  ordered: ReadonlySet<F>;
}

const FILES: Collection<FileField> = {
  known: isFileField,
  relation: 'folder',
  numeric: new Set(['filesize', 'width', 'height', 'duration', 'focal_point_x', 'focal_point_y']),
  ordered: new Set(['created_on', 'modified_on', 'uploaded_on']),
};

const FOLDERS: Collection<FolderField> = { known: isFolderField, relation: 'parent', numeric: new Set(), ordered: new Set() };

/** Whether the query is for one record (`/files/:id`), where `aggregate` and `groupBy` do not apply. */
export type QueryTarget = 'list' | 'item';

export const DEFAULT_LIMIT = 100;
/** `limit=-1` means "all", up to this many rows. */
export const MAX_LIMIT = 5000;

/**
 * Bounds on one query, so that every query either runs or is refused with a 400 naming the bound:
 * D1 allows 100 bound parameters a statement (the whole statement, not one list), SQLite refuses
 * deep expressions and integers past 64 bits, and a LIKE pattern has a length limit.
 */
export const QUERY_LIMITS = {
  /** Bound parameters the filter and search may use together (D1: 100 a statement, less LIMIT/OFFSET). */
  parameters: 90,
  /** Nesting of `_and`/`_or` (and of the bracket form's path). */
  depth: 6,
  /** Conditions in the whole filter. */
  conditions: 50,
  /** Characters of `search` and of one filter value. */
  textLength: 500,
  /** Largest `offset` (and `page` × `limit`). */
  offset: 1_000_000_000,
  /** Sort fields, and `groupBy` fields. */
  sort: 8,
  /** Relations a field path follows (`folder.parent.name`: 2). */
  relationDepth: RELATION_DEPTH,
  /** Function–field pairs in one `aggregate`. */
  aggregates: 16,
  /**
   * Bytes of the records in one list answer (their JSON, UTF-8). A list stops before the row that
   * would pass it (never before the first) and says where to go on with `meta.next_offset`.
   */
  answerBytes: 8 * 1024 * 1024,
} as const;

const invalid = (message: string) => new AppError('INVALID_QUERY', message);

/** `/files`'s query: the file fields, `hidden` ones refused (see parseQuery). */
export function parseFileQuery(params: URLSearchParams, hidden: ReadonlySet<FileField> = new Set(), target: QueryTarget = 'list'): FileQuery {
  return parseQuery(params, FILES, hidden, target);
}

/** `/folders`'s query (see parseQuery). */
export function parseFolderQuery(params: URLSearchParams, target: QueryTarget = 'list'): FolderQuery {
  return parseQuery(params, FOLDERS, new Set(), target);
}

/**
 * Parses Directus's query parameters: `limit`, `offset`, `page`, `sort`, `search`, `filter` (JSON,
 * or the bracket form `filter[title][_eq]=x`), `fields`, `meta`, and on lists `aggregate` and
 * `groupBy`, for `collection`. Fields, sort and filter follow its relation to folders (see
 * query-paths). Unknown fields and operators, and queries past QUERY_LIMITS, are refused with 400
 * INVALID_QUERY naming them; `hidden` fields (which the caller's scope may not see) are a 403
 * wherever they are named.
 */
function parseQuery<F extends string>(params: URLSearchParams, collection: Collection<F>, hidden: ReadonlySet<F>, target: QueryTarget): Query<F> {
  refuseUnsupported(params, target);
  const field = (name: string, where: string): F => {
    if (!collection.known(name)) throw invalid(`Unknown field "${name}" in ${where}.`);
    if (hidden.has(name)) throw new AppError('FORBIDDEN', `Field "${name}" needs the admin scope (in ${where}).`);
    return name;
  };
  const limit = integer(params, 'limit', DEFAULT_LIMIT, -1, Number.MAX_SAFE_INTEGER);
  const effectiveLimit = limit === -1 ? MAX_LIMIT : Math.min(limit, MAX_LIMIT);
  const page = params.has('page') ? integer(params, 'page', 1, 1, Math.floor(QUERY_LIMITS.offset / Math.max(effectiveLimit, 1)) + 1) : undefined;
  const offset = page !== undefined ? (page - 1) * effectiveLimit : integer(params, 'offset', 0, 0, QUERY_LIMITS.offset);

  const sortNames = (params.get('sort') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (sortNames.length > QUERY_LIMITS.sort) throw invalid(`"sort" may name at most ${QUERY_LIMITS.sort} fields.`);
  const sort = sortNames.map((s) => {
    const desc = s.startsWith('-');
    return { field: resolvePath((desc ? s.slice(1) : s).split('.'), collection.relation, field, 'sort'), desc };
  });

  const fields = parseSelection(params.get('fields'), collection.relation, field);
  const aggregate = parseAggregation(params, collection, field);
  if (aggregate) refuseWithAggregate(aggregate, fields, sort);

  const search = params.get('search')?.trim() || undefined;
  if (search !== undefined && search.length > QUERY_LIMITS.textLength) throw invalid(`"search" may be at most ${QUERY_LIMITS.textLength} characters.`);
  const filter = filterFromParams(params, collection.relation, field);
  const used = (filter ? parameterCount(filter) : 0) + (search ? SEARCH_PARAMETERS : 0);
  if (used > QUERY_LIMITS.parameters) {
    throw invalid(`This filter and search need ${used} values; a query may use at most ${QUERY_LIMITS.parameters} (count every _in/_nin item).`);
  }
  const meta = (params.get('meta') ?? '').split(',').map((m) => m.trim());
  return {
    limit: effectiveLimit,
    offset,
    sort,
    search,
    filter,
    fields,
    aggregate,
    meta: { totalCount: meta.includes('total_count') || meta.includes('*'), filterCount: meta.includes('filter_count') || meta.includes('*') },
  };
}

/**
 * Query parameters Directus defines that this API does not carry out. Ignoring one would answer
 * something else than was asked, so each is a 400 naming it, in the plain or the bracket form
 * (`deep[folder][_limit]=1`). `aggregate` and `groupBy` are carried out on lists only.
 */
const UNSUPPORTED_PARAMETERS = ['deep', 'alias', 'export', 'version', 'versionRaw', 'backlink'];
const LIST_ONLY_PARAMETERS = ['aggregate', 'groupBy'];

function refuseUnsupported(params: URLSearchParams, target: QueryTarget): void {
  for (const key of params.keys()) {
    const name = /^[^[]*/.exec(key)?.[0] ?? key;
    if (UNSUPPORTED_PARAMETERS.includes(name)) {
      throw invalid(`The query parameter "${name}" is not supported by this API (Directus defines it; this server does not carry it out). Leave it out.`);
    }
    if (target === 'item' && LIST_ONLY_PARAMETERS.includes(name)) {
      throw invalid(`The query parameter "${name}" applies to lists (GET /files, GET /folders), not to one record. Leave it out.`);
    }
  }
}

/**
 * An aggregate answers its `groupBy` fields and its aggregates, so `fields` would be ignored (it is
 * refused instead), and the groups can only be sorted by what they are grouped by.
 */
function refuseWithAggregate<F extends string>(aggregate: Aggregation<F>, fields: Selection<F> | undefined, sort: Query<F>['sort']): void {
  if (fields && (fields.fields !== undefined || fields.related)) {
    throw invalid('"fields" does not apply with "aggregate" or "groupBy": the answer holds the groupBy fields and the aggregates. Leave "fields" out.');
  }
  for (const { field } of sort) {
    if (typeof field !== 'string' || !aggregate.groupBy.includes(field)) {
      throw invalid(`"sort" with "aggregate" may only name "groupBy" fields (${aggregate.groupBy.join(', ') || 'none given'}).`);
    }
  }
}

function integer(params: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = params.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^-?\d{1,16}$/.test(raw) || Number(raw) < min || Number(raw) > max) throw invalid(`"${name}" must be a whole number from ${min} to ${max}.`);
  return Number(raw);
}

function filterFromParams<F extends string>(params: URLSearchParams, relation: F, field: FieldCheck<F>): Filter<F> | undefined {
  const json = params.get('filter');
  if (json !== null) {
    const parsed = parseJson(json, 'INVALID_QUERY', 'filter', '"filter" must be a JSON object such as {"title":{"_eq":"x"}}.');
    return parseFilter(parsed, relation, field);
  }
  // Bracket form: filter[field][_op]=value, filter[_or][0][field][_op]=value, ... built on
  // prototype-less objects, and no segment may be __proto__, constructor or prototype.
  const tree = dict<unknown>();
  let any = false;
  for (const [key, value] of params) {
    if (!key.startsWith('filter[')) continue;
    const path = [...key.slice('filter'.length).matchAll(/\[([^\]]*)\]/g)].map((m) => m[1] ?? '');
    if (path.length === 0) throw invalid(`Malformed filter parameter "${key}".`);
    if (path.length > 2 * QUERY_LIMITS.depth + 2) throw invalid(`Filter parameter "${key.slice(0, 80)}" nests deeper than ${QUERY_LIMITS.depth} levels.`);
    let node = tree;
    for (const [i, segment] of path.entries()) {
      assertSafeKey(segment, 'INVALID_QUERY', 'filter');
      if (i === path.length - 1) {
        if (segment in node) throw invalid(`Filter parameter "${key.slice(0, 80)}" is given twice or conflicts with another.`);
        node[segment] = value;
        break;
      }
      const next = node[segment] ?? dict<unknown>();
      if (typeof next !== 'object' || next === null) throw invalid(`Filter parameter "${key.slice(0, 80)}" conflicts with another.`);
      node[segment] = next;
      node = next as Record<string, unknown>;
    }
    any = true;
  }
  return any ? parseFilter(arrayify(tree), relation, field) : undefined;
}

/** `{ "0": a, "1": b }` from the bracket form → `[a, b]`, recursively. */
function arrayify(node: unknown): unknown {
  if (typeof node !== 'object' || node === null) return node;
  const entries = Object.entries(node).map(([k, v]) => [k, arrayify(v)] as const);
  if (entries.length > 0 && entries.every(([k]) => /^\d+$/.test(k))) return entries.sort(([a], [b]) => Number(a) - Number(b)).map(([, v]) => v);
  return Object.fromEntries(entries);
}

/**
 * Validates a filter tree (JSON or bracket form) against the fields, the operators and QUERY_LIMITS.
 * Under the relation field, a key that is not an operator is a field of the related folder
 * (`{"folder":{"name":{"_eq":"x"}}}`, `{"folder":{"parent":{"_null":true}}}`).
 */
function parseFilter<F extends string>(node: unknown, relation: F, field: FieldCheck<F>): Filter<F> {
  let conditions = 0;
  const leaf = (path: string[], value: unknown, parts: Filter<F>[]): void => {
    const name = path.join('.');
    const ref = resolvePath(path, relation, field, 'filter');
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`Filter on "${name}" needs an operator, e.g. {"${path[0]}":{"_eq":…}}.`);
    const isRelation = (typeof ref === 'string' ? ref : ref.field) === relationAt(relation, path.length - 1);
    for (const [op, operand] of Object.entries(value)) {
      assertSafeKey(op, 'INVALID_QUERY', 'filter');
      if (isRelation && !op.startsWith('_')) {
        leaf([...path, op], operand, parts);
        continue;
      }
      if (!(OPERATORS as readonly string[]).includes(op)) {
        throw invalid(`Unknown filter operator "${op}" on "${name}"; supported: ${OPERATORS.join(', ')}.`);
      }
      if (++conditions > QUERY_LIMITS.conditions) throw invalid(`A filter may have at most ${QUERY_LIMITS.conditions} conditions.`);
      parts.push({ field: ref, op: op as Operator, value: normaliseOperand(op as Operator, operand, name) });
    }
  };
  const walk = (n: unknown, depth: number): Filter<F> => {
    if (depth > QUERY_LIMITS.depth) throw invalid(`"_and"/"_or" may nest at most ${QUERY_LIMITS.depth} levels deep.`);
    if (typeof n !== 'object' || n === null || Array.isArray(n)) throw invalid('A filter must be an object.');
    const parts: Filter<F>[] = [];
    for (const [key, value] of Object.entries(n)) {
      assertSafeKey(key, 'INVALID_QUERY', 'filter');
      if (key === '_and' || key === '_or') {
        if (!Array.isArray(value)) throw invalid(`"${key}" takes a list of filters.`);
        const inner = value.map((v) => walk(v, depth + 1));
        parts.push(key === '_and' ? { and: inner } : { or: inner });
        continue;
      }
      leaf([key], value, parts);
    }
    if (parts.length === 1) return parts[0] as Filter<F>;
    return { and: parts };
  };
  return walk(node, 0);
}

/** Bound parameters a filter needs, as the repository writes it (`_starts_with`/`_ends_with` use their text twice). */
function parameterCount<F extends string>(filter: Filter<F>): number {
  if ('and' in filter) return filter.and.reduce((n, f) => n + parameterCount(f), 0);
  if ('or' in filter) return filter.or.reduce((n, f) => n + parameterCount(f), 0);
  if (filter.op === '_in' || filter.op === '_nin') return (filter.value as unknown[]).length;
  if (filter.op === '_null' || filter.op === '_nnull') return 0;
  if (filter.op === '_starts_with' || filter.op === '_ends_with') return 2;
  return 1;
}

/** search is matched against four columns, one parameter each. */
const SEARCH_PARAMETERS = 4;

function scalar(op: Operator, field: string, value: unknown): string | number | boolean | null {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value !== 'string') throw invalid(`"${op}" on "${field}" takes ${op === '_in' || op === '_nin' ? 'a list of single values' : 'a single value'}.`);
  if (value.length > QUERY_LIMITS.textLength) throw invalid(`A filter value on "${field}" may be at most ${QUERY_LIMITS.textLength} characters.`);
  return value;
}

function normaliseOperand(op: Operator, value: unknown, field: string): unknown {
  if (op === '_in' || op === '_nin') {
    const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : undefined;
    if (!list || list.length === 0) throw invalid(`"${op}" on "${field}" takes a non-empty list.`);
    if (list.length > QUERY_LIMITS.parameters) throw invalid(`"${op}" on "${field}" may list at most ${QUERY_LIMITS.parameters} values.`);
    return list.map((v) => scalar(op, field, v));
  }
  if (op === '_null' || op === '_nnull') return value === true || value === 'true' || value === '' || value === 1;
  return scalar(op, field, value);
}
