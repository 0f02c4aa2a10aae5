import * as z from 'zod/mini';
import { named } from './registry';

const check = z.object({
  status: z.enum(['ok', 'error']),
  componentType: z.enum(['datastore', 'objectstore']),
  output: z.optional(z.string()),
  code: z.optional(z.string()),
});

/** GET /server/health: `{"status":"ok"}`, or the report naming the failing check (503). */
export const healthAnswer = named(
  z.object({ status: z.enum(['ok', 'error']), checks: z.optional(z.record(z.string(), check)) }),
  'Health',
  'D1 and the default storage: `{"status":"ok"}`, or (503) each check with what failed.',
);

const project = z.object({
  project_name: z.string(),
  project_descriptor: z.null(),
  project_logo: z.null(),
  project_color: z.null(),
  default_language: z.string(),
  public_foreground: z.null(),
  public_background: z.null(),
  public_note: z.null(),
  custom_css: z.null(),
});

/** GET /server/info: everyone gets `project`; a valid token also the query limits. */
export const infoAnswer = named(
  z.object({
    data: z.object({
      project,
      rateLimit: z.optional(z.boolean()),
      rateLimitGlobal: z.optional(z.boolean()),
      queryLimit: z.optional(z.object({ default: z.int(), max: z.int() })),
      websocket: z.optional(z.boolean()),
    }),
  }),
  'ServerInfo',
  'Directus\'s `/server/info`, the part that applies here.',
);

/** GET /server/specs/oas: this document (its schema is OpenAPI 3.1\'s own). */
export const openApiAnswer = z.looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.looseObject({}) });
