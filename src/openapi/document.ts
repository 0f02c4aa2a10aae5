import * as z from 'zod/mini';
import { errorEnvelope } from '../schemas/errors';
import type { Answer, Parameter, RouteDoc } from './route-table';
import { ROUTES } from './routes';

type Json = Record<string, unknown>;

const COMPONENTS = '#/components/schemas/';

/** `/files/:id` → `/files/{id}`; Hono's `*` (TUS OPTIONS, any path below) → `{path}`. */
export function openApiPath(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, '{path}');
}

/**
 * A zod schema as OpenAPI 3.1's JSON Schema (draft 2020-12): a named schema (src/schemas/registry.ts)
 * is a `$ref` to its component; named schemas inside it too.
 */
function schemaOf(schema: z.ZodMiniType): Json {
  const id = z.globalRegistry.get(schema)?.id;
  if (id !== undefined) return { $ref: `${COMPONENTS}${id}` };
  const { $schema: _, $defs: __, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12' }) as Json;
  return JSON.parse(JSON.stringify(rest).replaceAll('"#/$defs/', `"${COMPONENTS}`)) as Json;
}

/** Every named schema, once. */
function components(): Record<string, Json> {
  const { schemas } = z.toJSONSchema(z.globalRegistry, { target: 'draft-2020-12', uri: (id) => `${COMPONENTS}${id}` });
  return Object.fromEntries(Object.entries(schemas).map(([id, s]) => {
    const { $schema: _, $id: __, ...rest } = s as Json;
    return [id, rest];
  }));
}

function content(byType: Record<string, z.ZodMiniType | null>): Json {
  return Object.fromEntries(Object.entries(byType).map(([type, schema]) => [type, { schema: schema ? schemaOf(schema) : {} }]));
}

function answer(a: Answer): Json {
  return {
    description: a.description,
    ...(a.headers ? { headers: Object.fromEntries(a.headers.map((h) => [h.name, { description: h.description, schema: { type: 'string' } }])) } : {}),
    ...(a.content ? { content: content(a.content) } : {}),
  };
}

function parameter(p: Parameter): Json {
  return { name: p.name, in: p.in, required: p.required ?? false, description: p.description, schema: schemaOf(p.schema) };
}

const SECURITY: Record<RouteDoc['access'], Json[]> = {
  public: [],
  // A token is optional: without one the answer is the public one.
  optional: [{}, { bearer: [] }, { accessToken: [] }],
  read: [{ bearer: [] }, { accessToken: [] }],
  upload: [{ bearer: [] }, { accessToken: [] }],
  admin: [{ bearer: [] }, { accessToken: [] }],
};

function operation(route: RouteDoc, method: string): Json {
  const pathParams = [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
  const wildcard = route.path.endsWith('*') ? [{ name: 'path', in: 'path', required: true, schema: { type: 'string' }, description: 'Any path below.' }] : [];
  const scope = route.access === 'public' || route.access === 'optional' ? undefined : `Needs a token with the \`${route.access}\` scope (or a higher one).`;
  return {
    operationId: `${method}${openApiPath(route.path).replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
    summary: route.summary,
    ...(scope ? { description: scope } : {}),
    tags: [route.tag],
    security: SECURITY[route.access],
    parameters: [...pathParams, ...wildcard, ...(route.parameters ?? []).map(parameter)],
    ...(route.body ? { requestBody: { required: !route.body.optional, content: content(route.body.content) } } : {}),
    responses: {
      ...Object.fromEntries(Object.entries(route.answers).map(([status, a]) => [status, answer(a)])),
      default: { description: 'An error, in Directus\'s envelope (the status is the code\'s).', content: { 'application/json': { schema: schemaOf(errorEnvelope) } } },
    },
  };
}

/** The OpenAPI 3.1 document of the whole API, made from the route table and the schemas it names. */
export function openApiDocument(routes: readonly RouteDoc[] = ROUTES): Json {
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const item = (paths[openApiPath(route.path)] ??= {});
    for (const method of route.methods) item[method] = operation(route, method);
  }
  return {
    openapi: '3.1.1',
    info: {
      title: 'edge-assets',
      version: '0.1.0',
      description: 'The file and asset layer of a content platform: Directus\'s /files, /folders and /assets at the edge, TUS and direct-to-bucket uploads, webhooks for file events.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    servers: [{ url: '/' }],
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: components(),
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN, or a token made at POST /tokens.' },
        accessToken: { type: 'apiKey', in: 'query', name: 'access_token', description: 'The same token as a query parameter (Directus).' },
      },
    },
  };
}

let built: Json | undefined;

/** The document, built once per isolate (it depends on nothing but the code). */
export function openApi(): Json {
  built ??= openApiDocument();
  return built;
}
