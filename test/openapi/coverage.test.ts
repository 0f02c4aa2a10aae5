import { describe, expect, it } from 'vitest';
import { app } from '../../src/app';
import { openApiPath } from '../../src/openapi/document';
import { ADMIN_PAGE_PATHS } from '../../src/routes/admin-page';
import { servedDocument } from './conformance';

// The file library page is HTML for people, not part of the API the document describes.
const NOT_API = new Set(ADMIN_PAGE_PATHS);

/** `METHOD /path` of every route the app registers (middleware, registered for ALL methods, aside). */
function appRoutes(): string[] {
  const routes = app.routes.filter((r) => r.method !== 'ALL' && !NOT_API.has(r.path)).map((r) => `${r.method.toLowerCase()} ${openApiPath(r.path)}`);
  return [...new Set(routes)].sort();
}

describe('the document covers the app', () => {
  it('has every route Hono registers, and no route it does not', async () => {
    const paths = (await servedDocument()).paths as Record<string, Record<string, unknown>>;
    const registered = appRoutes();
    // Hono answers HEAD with a GET route's handler: the document may say `head` beside a `get` route.
    const documented = Object.entries(paths)
      .flatMap(([path, item]) => Object.keys(item).map((m) => `${m} ${path}`))
      .filter((route) => !route.startsWith('head ') || registered.includes(route) || !registered.includes(route.replace(/^head /, 'get ')))
      .sort();
    expect(documented).toEqual(registered);
  });

  it('would notice a route added without its entry', () => {
    // The walk itself sees routes (a guard against a test that compares two empty lists).
    expect(appRoutes()).toContain('get /files/{id}');
    expect(appRoutes()).toContain('post /files/s3/multipart/{uploadId}/complete');
    expect(appRoutes().length).toBeGreaterThan(40);
  });
});
