import type * as z from 'zod/mini';
import { assetParameters } from '../schemas/assets';
import { type QueryParameter, queryParameters } from '../schemas/query';

/** The HTTP methods the document describes (lower case, as OpenAPI's path items name them). */
export type Method = 'get' | 'head' | 'post' | 'patch' | 'delete' | 'options';

/** Who may call a route: anyone, anyone (a token adds to the answer), or a token of at least this scope. */
export type Access = 'public' | 'optional' | 'read' | 'upload' | 'admin';

export interface Parameter {
  name: string;
  in: 'query' | 'header';
  schema: z.ZodMiniType;
  description: string;
  required?: boolean;
}

/** One success answer: its body by media type (none for 204 and TUS), and the headers that matter. */
export interface Answer {
  description: string;
  content?: Record<string, z.ZodMiniType | null>;
  headers?: readonly { name: string; description: string }[];
}

/**
 * One route of the API as the document describes it. `path` is written as Hono registers it
 * (`/files/:id`), so the test that walks the app's routes compares like with like. Every route also
 * answers Directus's error envelope (`default`), which the builder adds.
 */
export interface RouteDoc {
  methods: Method[];
  path: string;
  summary: string;
  tag: string;
  access: Access;
  parameters?: Parameter[];
  /** The request body by media type; `optional` when a route takes it or not. */
  body?: { content: Record<string, z.ZodMiniType | null>; optional?: boolean };
  answers: Record<number, Answer>;
}

/** A JSON answer. */
export function json(schema: z.ZodMiniType, description: string): Answer {
  return { description, content: { 'application/json': schema } };
}

/** A JSON request body. */
export function jsonBody(schema: z.ZodMiniType): RouteDoc['body'] {
  return { content: { 'application/json': schema } };
}

export const noContent: Answer = { description: 'Done; no body.' };

/** Directus query parameters by name (src/schemas/query.ts). */
export function query(names: readonly QueryParameter[]): Parameter[] {
  return names.map((name) => ({ name, in: 'query', ...queryParameters[name] }));
}

/** `/assets` query parameters (src/schemas/assets.ts). */
export function assetQuery(): Parameter[] {
  return Object.entries(assetParameters).map(([name, p]) => ({ name, in: 'query', ...p }));
}
