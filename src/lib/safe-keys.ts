import { AppError, type ErrorCode } from '../errors/app-error';

/**
 * Keys that reach into an object's prototype machinery. Written onto a normal object, `__proto__`
 * replaces its prototype, and a path through `constructor.prototype` reaches `Object.prototype`,
 * which every object of the isolate shares. User input never uses them as keys: they are refused
 * with a 400 wherever input becomes an object (query strings, JSON bodies, form fields, TUS
 * metadata), and objects built from input have no prototype at all (`dict`).
 */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function isForbiddenKey(key: string): boolean {
  return FORBIDDEN_KEYS.has(key);
}

/** Throws `code` (a 400) naming the key and where it was found when `key` is a forbidden one. */
export function assertSafeKey(key: string, code: ErrorCode, where: string): void {
  if (FORBIDDEN_KEYS.has(key)) throw new AppError(code, `"${key}" cannot be used as a key in ${where}.`);
}

/** An empty object without a prototype: no key written to it can reach another object. */
export function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/**
 * JSON.parse that refuses forbidden keys at any depth (`code`, naming `where`), and a syntax error
 * with `syntaxMessage`. JSON.parse itself makes `__proto__` an own property, but code that later
 * copies or merges the value with ordinary assignment would not.
 */
export function parseJson(text: string, code: ErrorCode, where: string, syntaxMessage: string): unknown {
  let forbidden: string | undefined;
  let value: unknown;
  try {
    value = JSON.parse(text, (key, v: unknown) => {
      if (forbidden === undefined && FORBIDDEN_KEYS.has(key)) forbidden = key;
      return v;
    });
  } catch {
    throw new AppError(code, syntaxMessage);
  }
  if (forbidden !== undefined) assertSafeKey(forbidden, code, where);
  return value;
}
