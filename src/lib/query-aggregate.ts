import { AppError } from '../errors/app-error';
import { parseJson } from './safe-keys';
import { type Collection, QUERY_LIMITS } from './query';
import type { FieldCheck } from './query-paths';

/** Directus's aggregate functions. */
export const AGGREGATE_FUNCTIONS = ['count', 'countDistinct', 'sum', 'sumDistinct', 'avg', 'avgDistinct', 'min', 'max'] as const;
export type AggregateFunction = (typeof AGGREGATE_FUNCTIONS)[number];

/** One aggregate: `count` of `*` (the rows) or of a field's non-null values, `sum` of a field, … */
export interface AggregateTerm<F extends string> {
  fn: AggregateFunction;
  field: F | '*';
}

/** `aggregate` and `groupBy` together: one answer row per group (one row without `groupBy`). */
export interface Aggregation<F extends string> {
  terms: AggregateTerm<F>[];
  groupBy: F[];
}

const NUMERIC_ONLY: ReadonlySet<AggregateFunction> = new Set(['sum', 'sumDistinct', 'avg', 'avgDistinct']);
const ORDERED: ReadonlySet<AggregateFunction> = new Set(['min', 'max']);

const invalid = (message: string) => new AppError('INVALID_QUERY', message);

/**
 * `aggregate` and `groupBy` as Directus takes them: `aggregate={"count":"*","sum":["filesize"]}` (what
 * `@directus/sdk` sends), `aggregate[count]=*`, `aggregate[sum]=filesize,width`,
 * `aggregate[sum][]=filesize`; `groupBy=type,folder` or `groupBy[]=type`. Functions come from
 * AGGREGATE_FUNCTIONS; `*` only with `count`; `sum`/`avg` (and their Distinct forms) only on the
 * collection's numeric fields, `min`/`max` also on its timestamps. Undefined when neither is given.
 */
export function parseAggregation<F extends string>(params: URLSearchParams, collection: Collection<F>, field: FieldCheck<F>): Aggregation<F> | undefined {
  const requested = requestedTerms(params);
  const groupNames = listParameter(params, 'groupBy');
  if (requested.length === 0 && groupNames.length === 0) return undefined;

  if (requested.length > QUERY_LIMITS.aggregates) throw invalid(`"aggregate" may ask for at most ${QUERY_LIMITS.aggregates} function–field pairs.`);
  const terms: AggregateTerm<F>[] = [];
  for (const [fn, name] of requested) {
    if (!(AGGREGATE_FUNCTIONS as readonly string[]).includes(fn)) throw invalid(`Unknown aggregate function "${fn}"; supported: ${AGGREGATE_FUNCTIONS.join(', ')}.`);
    const term = checkedTerm(fn as AggregateFunction, name, collection, field);
    if (terms.some((t) => t.fn === term.fn && t.field === term.field)) continue;
    if (terms.some((t) => t.fn === term.fn && (t.field === '*') !== (term.field === '*'))) {
      throw invalid(`"${fn}" of "*" and of a field cannot be asked together (Directus answers them under the same key); ask in two requests.`);
    }
    terms.push(term);
  }

  if (groupNames.length > QUERY_LIMITS.sort) throw invalid(`"groupBy" may name at most ${QUERY_LIMITS.sort} fields.`);
  const groupBy = [...new Set(groupNames.map((name) => field(name, 'groupBy')))];
  return { terms, groupBy };
}

function checkedTerm<F extends string>(fn: AggregateFunction, name: string, collection: Collection<F>, field: FieldCheck<F>): AggregateTerm<F> {
  if (name === '*') {
    if (fn !== 'count') throw invalid(`"${fn}" needs a field; only "count" takes "*".`);
    return { fn, field: '*' };
  }
  const f = field(name, 'aggregate');
  const numeric = collection.numeric.has(f);
  if (NUMERIC_ONLY.has(fn) && !numeric) {
    throw invalid(`"${fn}" takes a numeric field (${[...collection.numeric].join(', ') || 'this collection has none'}); "${name}" is not one.`);
  }
  if (ORDERED.has(fn) && !numeric && !collection.ordered.has(f)) {
    const takes = [...collection.numeric, ...collection.ordered];
    throw invalid(`"${fn}" takes a numeric or date field (${takes.join(', ') || 'this collection has none'}); "${name}" is not one.`);
  }
  return { fn, field: f };
}

/** [function, field] pairs of `aggregate`, in either form, fields split at commas. */
function requestedTerms(params: URLSearchParams): [string, string][] {
  const pairs: [string, string][] = [];
  for (const [key, value] of params) {
    if (key === 'aggregate') {
      const parsed = parseJson(value, 'INVALID_QUERY', 'aggregate', '"aggregate" must be a JSON object such as {"count":"*"} or given as aggregate[count]=*.');
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid('"aggregate" must be an object of function → field(s), such as {"count":"*"}.');
      for (const [fn, fields] of Object.entries(parsed)) {
        const list = typeof fields === 'string' ? [fields] : fields;
        if (!Array.isArray(list) || !list.every((f) => typeof f === 'string')) throw invalid(`"aggregate" ${fn} takes a field name or a list of them.`);
        for (const f of list as string[]) pairs.push(...split(f).map((name) => [fn, name] as [string, string]));
      }
      continue;
    }
    const bracket = /^aggregate\[([^\]]*)\](?:\[\d*\])?$/.exec(key);
    if (bracket) pairs.push(...split(value).map((name) => [bracket[1] ?? '', name] as [string, string]));
    else if (key.startsWith('aggregate[')) throw invalid(`Malformed aggregate parameter "${key.slice(0, 80)}"; use aggregate[count]=* or aggregate={"count":"*"}.`);
  }
  return pairs;
}

/** A list parameter: `name=a,b`, `name[]=a&name[]=b`, `name[0]=a`. */
function listParameter(params: URLSearchParams, name: string): string[] {
  const values: string[] = [];
  for (const [key, value] of params) {
    if (key === name || new RegExp(`^${name}\\[\\d*\\]$`).test(key)) values.push(...split(value));
    else if (key.startsWith(`${name}[`)) throw invalid(`Malformed ${name} parameter "${key.slice(0, 80)}"; use ${name}=a,b or ${name}[]=a.`);
  }
  return values;
}

function split(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}
