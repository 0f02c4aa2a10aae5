import SwaggerParser from '@apidevtools/swagger-parser';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../src/openapi/document';
import { ROUTES } from '../src/openapi/routes';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document (swagger-parser: the 3.1 schema, then every $ref resolved)', async () => {
    const document = openApiDocument();
    // validate() dereferences in place: give it a copy.
    const api = await SwaggerParser.validate(structuredClone(document) as never);
    expect(api.openapi).toBe('3.1.1');
    expect(Object.keys(api.paths ?? {})).toContain('/files/{id}');
  });

  it('is refused by the same validator when a route answers a schema that is not there', async () => {
    const broken = structuredClone(openApiDocument()) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    const get = broken.paths['/files/{id}']?.get;
    if (!get) throw new Error('no GET /files/{id}');
    get.responses['200'] = { description: 'x', content: { 'application/json': { schema: { $ref: '#/components/schemas/Missing' } } } };
    await expect(SwaggerParser.validate(broken as never)).rejects.toThrow(/Missing/);
  });

  it('names each operation once', () => {
    const ids = Object.values(openApiDocument().paths as Record<string, Record<string, { operationId: string }>>).flatMap((item) => Object.values(item).map((op) => op.operationId));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(ROUTES.reduce((n, r) => n + r.methods.length, 0));
  });

  it('src/openapi/api.d.ts (openapi-typescript) is what the document makes now', async () => {
    // The script runs on Node 22 (the project's `node` dev dependency), as npm run does.
    const node = `${root}node_modules/.bin/node`;
    const run = promisify(execFile)(node, ['scripts/openapi-types.ts', '--check'], { cwd: root });
    await expect(run).resolves.toMatchObject({ stdout: expect.stringContaining('is current') });
  }, 120_000);
});
