import { Validator } from '@cfworker/json-schema';
import { expect } from 'vitest';
import { api } from '../helpers';

type Json = Record<string, unknown>;
interface Operation {
  responses: Record<string, { content?: Record<string, { schema: Json }> }>;
}

let served: Json | undefined;

/** The document as GET /server/specs/oas serves it (once per file). */
export async function servedDocument(): Promise<Json> {
  if (!served) {
    const res = await api('/server/specs/oas', { token: null });
    expect(res.status).toBe(200);
    served = (await res.json()) as Json;
  }
  return served;
}

/** A schema of the document, its `#/components/schemas/…` references resolved within it as `$defs`. */
function standalone(schema: Json, document: Json): Json {
  const schemas = (document.components as { schemas: Json }).schemas;
  const text = JSON.stringify({ ...schema, $defs: schemas }).replaceAll('"#/components/schemas/', '"#/$defs/');
  return JSON.parse(text) as Json;
}

/**
 * Checks a live answer against the document: its status is one the operation lists (an error may
 * fall to `default`, a success may not), and a JSON body satisfies that answer's schema. Answers
 * the body read, for the test to go on with.
 */
export async function conforms(res: Response, method: string, path: string): Promise<unknown> {
  const document = await servedDocument();
  const operation = (document.paths as Record<string, Record<string, Operation>>)[path]?.[method.toLowerCase()];
  expect(operation, `${method} ${path} is in the document`).toBeDefined();
  const responses = (operation as Operation).responses;
  const documented = responses[String(res.status)] ?? (res.status >= 400 ? responses.default : undefined);
  expect(documented, `${method} ${path} documents status ${res.status}`).toBeDefined();
  const text = await res.text();
  const content = documented?.content;
  // A HEAD answer has the headers of the GET's and never a body.
  if (method.toUpperCase() === 'HEAD') {
    expect(text, `HEAD ${path} has no body`).toBe('');
    return undefined;
  }
  if (!content) {
    expect(text, `${method} ${path} ${res.status} has no body`).toBe('');
    return undefined;
  }
  const type = (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
  const media = content[type] ?? content['*/*'];
  expect(media, `${method} ${path} ${res.status} documents ${type}`).toBeDefined();
  if (type !== 'application/json') return text;
  const body: unknown = JSON.parse(text);
  const result = new Validator(standalone((media as { schema: Json }).schema, document) as never, '2020-12', false).validate(body);
  expect(result.errors.map((e) => `${e.instanceLocation}: ${e.error}`), `${method} ${path} ${res.status}: ${text.slice(0, 300)}`).toEqual([]);
  return body;
}
