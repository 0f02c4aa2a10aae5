/**
 * HTTP semantics for serving a stored representation: conditional requests and ranges (RFC 9110
 * §13 and §14) and Content-Disposition (RFC 6266 with RFC 8187/5987 encoding). Pure functions.
 */

import { cleanName } from '../files/fields';

export interface Validators {
  /** A strong entity tag, quoted. */
  etag: string;
  lastModified: Date;
}

export type ConditionalOutcome = 'proceed' | 'not-modified' | 'precondition-failed';

/** Entity tags in a header list (`"a", W/"b"`), or `*`. */
function tags(header: string): string[] | '*' {
  if (header.trim() === '*') return '*';
  return [...header.matchAll(/(W\/)?"[^"]*"/g)].map((m) => m[0]);
}

const opaque = (tag: string) => tag.replace(/^W\//, '');

function httpDate(value: string | null): number | undefined {
  if (!value) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

/** Last-Modified has one-second resolution; compare at that resolution. */
function seconds(date: Date): number {
  return Math.floor(date.getTime() / 1000) * 1000;
}

/**
 * Evaluates the preconditions in RFC 9110 §13.2.2's order: If-Match (strong), If-Unmodified-Since,
 * If-None-Match (weak; 304 for GET/HEAD), If-Modified-Since (only without If-None-Match).
 */
export function evaluateConditionals(headers: Headers, method: string, v: Validators): ConditionalOutcome {
  const ifMatch = headers.get('if-match');
  if (ifMatch !== null) {
    const list = tags(ifMatch);
    if (list !== '*' && !list.some((t) => !t.startsWith('W/') && t === v.etag)) return 'precondition-failed';
  } else {
    const since = httpDate(headers.get('if-unmodified-since'));
    if (since !== undefined && seconds(v.lastModified) > since) return 'precondition-failed';
  }
  const safe = method === 'GET' || method === 'HEAD';
  const ifNoneMatch = headers.get('if-none-match');
  if (ifNoneMatch !== null) {
    const list = tags(ifNoneMatch);
    if (list === '*' || list.some((t) => opaque(t) === opaque(v.etag))) return safe ? 'not-modified' : 'precondition-failed';
  } else if (safe) {
    const since = httpDate(headers.get('if-modified-since'));
    if (since !== undefined && seconds(v.lastModified) <= since) return 'not-modified';
  }
  return 'proceed';
}

export type RangeOutcome = { kind: 'full' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * Interprets `Range` for a representation of `size` bytes. One range (`a-b`, `a-`, `-n`) → partial;
 * several ranges, another unit, a malformed header or a failed `If-Range` → the full representation
 * (RFC 9110 lets a server ignore Range); a syntactically valid range that starts past the end → 416.
 */
export function evaluateRange(headers: Headers, size: number, v: Validators): RangeOutcome {
  const range = headers.get('range');
  if (!range) return { kind: 'full' };
  const ifRange = headers.get('if-range');
  if (ifRange !== null) {
    const trimmed = ifRange.trim();
    const matches = trimmed.startsWith('"') || trimmed.startsWith('W/')
      ? !trimmed.startsWith('W/') && trimmed === v.etag
      : httpDate(trimmed) === seconds(v.lastModified);
    if (!matches) return { kind: 'full' };
  }
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(range);
  if (!m) return { kind: 'full' };
  const [, first = '', last = ''] = m;
  if (first === '' && last === '') return { kind: 'full' };
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) };
}

/**
 * `inline` or `attachment` with the name twice: `filename="…"`, an ASCII fallback in which quotes,
 * backslashes, `%` and non-ASCII characters become `_`, and `filename*=UTF-8''…` percent-encoded.
 * Control characters (CR/LF among them) and bidirectional formatting characters are dropped (see
 * cleanName), so a hostile name can neither break the header, nor inject another, nor pass for
 * another name: records stored before names were checked are served clean too.
 */
export function contentDisposition(type: 'inline' | 'attachment', filename: string): string {
  const clean = cleanName(filename, Number.POSITIVE_INFINITY) || 'file';
  const fallback = clean.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(clean).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${type}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
