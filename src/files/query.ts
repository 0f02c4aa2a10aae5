import { AppError } from '../errors/app-error';
import { type FileField, isFileField } from './record';

/** Directus filter operators supported on file fields. */
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

export type Filter =
  | { and: Filter[] }
  | { or: Filter[] }
  | { field: FileField; op: Operator; value: unknown };

export interface FileQuery {
  limit: number;
  offset: number;
  sort: { field: FileField; desc: boolean }[];
  search: string | undefined;
  filter: Filter | undefined;
  fields: FileField[] | undefined;
  meta: { totalCount: boolean; filterCount: boolean };
}

export const DEFAULT_LIMIT = 100;
/** `limit=-1` means "all", up to this many rows. */
export const MAX_LIMIT = 5000;

const invalid = (message: string) => new AppError('INVALID_QUERY', message);

/**
 * Parses Directus's query parameters for `/files`: `limit`, `offset`, `page`, `sort`, `search`,
 * `filter` (JSON, or the bracket form `filter[title][_eq]=x`), `fields`, `meta`. Unknown fields and
 * operators are refused with 400 INVALID_QUERY naming them.
 */
export function parseFileQuery(params: URLSearchParams): FileQuery {
  const limit = integer(params, 'limit', DEFAULT_LIMIT, -1);
  const effectiveLimit = limit === -1 ? MAX_LIMIT : Math.min(limit, MAX_LIMIT);
  const page = params.has('page') ? integer(params, 'page', 1, 1) : undefined;
  const offset = page !== undefined ? (page - 1) * effectiveLimit : integer(params, 'offset', 0, 0);

  const sort = (params.get('sort') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const desc = s.startsWith('-');
      const field = desc ? s.slice(1) : s;
      if (!isFileField(field)) throw invalid(`Cannot sort by unknown field "${field}".`);
      return { field, desc };
    });

  const fieldsParam = params.get('fields');
  let fields: FileField[] | undefined;
  if (fieldsParam && fieldsParam.split(',').every((f) => f.trim() !== '*')) {
    fields = fieldsParam.split(',').map((f) => {
      const name = f.trim();
      if (!isFileField(name)) throw invalid(`Unknown field "${name}" in fields.`);
      return name;
    });
  }

  const meta = (params.get('meta') ?? '').split(',').map((m) => m.trim());
  return {
    limit: effectiveLimit,
    offset,
    sort,
    search: params.get('search')?.trim() || undefined,
    filter: filterFromParams(params),
    fields,
    meta: { totalCount: meta.includes('total_count') || meta.includes('*'), filterCount: meta.includes('filter_count') || meta.includes('*') },
  };
}

function integer(params: URLSearchParams, name: string, fallback: number, min: number): number {
  const raw = params.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^-?\d+$/.test(raw) || Number(raw) < min) throw invalid(`"${name}" must be a whole number of at least ${min}.`);
  return Number(raw);
}

function filterFromParams(params: URLSearchParams): Filter | undefined {
  const json = params.get('filter');
  if (json !== null) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      throw invalid('"filter" must be a JSON object such as {"title":{"_eq":"x"}}.');
    }
    return parseFilter(parsed);
  }
  // Bracket form: filter[field][_op]=value, filter[_or][0][field][_op]=value, ...
  const tree: Record<string, unknown> = {};
  let any = false;
  for (const [key, value] of params) {
    if (!key.startsWith('filter[')) continue;
    const path = [...key.slice('filter'.length).matchAll(/\[([^\]]*)\]/g)].map((m) => m[1] ?? '');
    if (path.length === 0) throw invalid(`Malformed filter parameter "${key}".`);
    let node = tree;
    for (const [i, segment] of path.entries()) {
      if (i === path.length - 1) node[segment] = value;
      else node = (node[segment] ??= {}) as Record<string, unknown>;
    }
    any = true;
  }
  return any ? parseFilter(arrayify(tree)) : undefined;
}

/** `{ "0": a, "1": b }` from the bracket form → `[a, b]`, recursively. */
function arrayify(node: unknown): unknown {
  if (typeof node !== 'object' || node === null) return node;
  const entries = Object.entries(node).map(([k, v]) => [k, arrayify(v)] as const);
  if (entries.length > 0 && entries.every(([k]) => /^\d+$/.test(k))) return entries.map(([, v]) => v);
  return Object.fromEntries(entries);
}

export function parseFilter(node: unknown): Filter {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) throw invalid('A filter must be an object.');
  const parts: Filter[] = [];
  for (const [key, value] of Object.entries(node)) {
    if (key === '_and' || key === '_or') {
      if (!Array.isArray(value)) throw invalid(`"${key}" takes a list of filters.`);
      const inner = value.map(parseFilter);
      parts.push(key === '_and' ? { and: inner } : { or: inner });
      continue;
    }
    if (!isFileField(key)) throw invalid(`Cannot filter on unknown field "${key}".`);
    if (typeof value !== 'object' || value === null) throw invalid(`Filter on "${key}" needs an operator, e.g. {"${key}":{"_eq":…}}.`);
    for (const [op, operand] of Object.entries(value)) {
      if (!(OPERATORS as readonly string[]).includes(op)) {
        throw invalid(`Unknown filter operator "${op}" on "${key}"; supported: ${OPERATORS.join(', ')}.`);
      }
      parts.push({ field: key, op: op as Operator, value: normaliseOperand(op as Operator, operand, key) });
    }
  }
  if (parts.length === 1) return parts[0] as Filter;
  return { and: parts };
}

function normaliseOperand(op: Operator, value: unknown, field: string): unknown {
  if (op === '_in' || op === '_nin') {
    const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : undefined;
    if (!list) throw invalid(`"${op}" on "${field}" takes a list.`);
    return list;
  }
  if (op === '_null' || op === '_nnull') return value === true || value === 'true' || value === '' || value === 1;
  if (typeof value === 'object' && value !== null) throw invalid(`"${op}" on "${field}" takes a single value.`);
  return value;
}
