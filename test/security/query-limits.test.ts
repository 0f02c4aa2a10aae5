import { beforeAll, describe, expect, it } from 'vitest';
import { api, errorOf, newToken, uploadFile } from '../helpers';

/**
 * Every `/files` query either runs or is a 400 INVALID_QUERY naming the limit: nothing reaches D1
 * (100 bound parameters a statement, 64-bit integers, bounded expression depth) to come back a 500.
 */
let readToken: string;
const tag = `limits-${crypto.randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  readToken = (await newToken('read')).token;
  await uploadFile({ name: 'limits.txt', data: 'x' }, { tags: JSON.stringify([tag]), title: 'Limits' });
});

const nest = (depth: number): unknown => (depth === 0 ? { title: { _eq: 'Limits' } } : { _and: [nest(depth - 1)] });
const json = (filter: unknown) => `filter=${encodeURIComponent(JSON.stringify(filter))}`;
const values = (n: number) => Array.from({ length: n }, (_, i) => `v${i}`);

describe('queries past a limit are 400 INVALID_QUERY, never 500', () => {
  const refused: [string, string, RegExp][] = [
    ['a long _in list', `filter[title][_in]=${values(200).join(',')}`, /at most 90 values/],
    ['many short _in lists (the bound is on the whole query)', json({ _or: Array.from({ length: 30 }, () => ({ title: { _in: values(4) } })) }), /need 120 values; a query may use at most 90/],
    ['deep _and/_or nesting', json(nest(40)), /nest at most 6 levels/],
    ['a deep bracket path', `filter${'[_and][0]'.repeat(20)}[title][_eq]=x`, /nests deeper than 6 levels/],
    ['many conditions', json({ _and: Array.from({ length: 60 }, () => ({ title: { _null: true } })) }), /at most 50 conditions/],
    ['a 6000-character search', `search=${'a'.repeat(6000)}`, /"search" may be at most 500 characters/],
    ['a 6000-character filter value', `filter[title][_icontains]=${'a'.repeat(6000)}`, /at most 500 characters/],
    ['a 24-digit offset', `offset=${'9'.repeat(24)}`, /"offset" must be a whole number from 0 to 1000000000/],
    ['an offset past the bound', 'offset=1000000001', /"offset" must be a whole number/],
    ['a 20-digit page', `page=${'9'.repeat(20)}`, /"page" must be a whole number/],
    ['a 30-digit limit', `limit=${'9'.repeat(30)}`, /"limit" must be a whole number/],
    ['an object inside _in', json({ title: { _in: ['a', { x: 1 }] } }), /"_in" on "title" takes a list of single values/],
    ['a list given to _eq', json({ title: { _eq: ['a', 'b'] } }), /"_eq" on "title" takes a single value/],
    ['an empty _in', json({ title: { _in: [] } }), /non-empty list/],
    ['200 sort fields', `sort=${Array.from({ length: 200 }, () => 'title').join(',')}`, /"sort" may name at most 8 fields/],
    ['a filter without an operator', json({ title: 'x' }), /needs an operator/],
    ['the same bracket parameter twice', 'filter[title][_eq]=a&filter[title][_eq]=b', /given twice/],
  ];
  for (const [what, query, message] of refused) {
    it(what, async () => {
      const error = await errorOf(await api(`/files?${query}`, { token: readToken }));
      expect(error).toMatchObject({ status: 400, code: 'INVALID_QUERY' });
      expect(error.message).toMatch(message);
    });
  }
});

describe('queries at the limits run', () => {
  const accepted: [string, string, number][] = [
    ['90 _in values', `filter[tags][_contains]=${tag}&filter[title][_in]=Limits,${values(88).join(',')}`, 1],
    ['6 levels of nesting', `${json({ _and: [{ tags: { _contains: tag } }, nest(5)] })}`, 1],
    ['a 500-character search', `filter[tags][_contains]=${tag}&search=${'a'.repeat(500)}`, 0],
    ['the largest offset', `filter[tags][_contains]=${tag}&offset=1000000000`, 0],
    ['a large page', `filter[tags][_contains]=${tag}&page=1000&limit=10`, 0],
  ];
  for (const [what, query, count] of accepted) {
    it(what, async () => {
      const res = await api(`/files?${query}`, { token: readToken });
      expect(res.status, await res.clone().text()).toBe(200);
      expect(((await res.json()) as { data: unknown[] }).data).toHaveLength(count);
    });
  }
});
