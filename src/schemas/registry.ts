import * as z from 'zod/mini';

/**
 * `schema`, named `id` in zod's global registry: the OpenAPI document (src/openapi/document.ts)
 * writes each named schema once under `components/schemas` and refers to it (`$ref`) wherever a
 * route uses it. The global registry, not one of our own: `z.describe` on a field writes there too,
 * and zod's JSON Schema reads the descriptions from one registry.
 */
export function named<S extends z.ZodMiniType>(schema: S, id: string, description: string): S {
  z.globalRegistry.add(schema, { id, description });
  return schema;
}
