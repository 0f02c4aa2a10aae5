import { exports } from 'cloudflare:workers';
import createClient from 'openapi-fetch';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { paths } from '../../src/openapi/api';
import { ADMIN_TOKEN, uploadFile } from '../helpers';

/**
 * A client typed by the document alone (openapi-typescript's src/openapi/api.d.ts), as an
 * application would make one; its requests go into the Worker under test. `npm run typecheck`
 * checks the calls and the types of what they answer.
 */
const client = createClient<paths>({
  baseUrl: 'http://assets.test',
  headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
  fetch: (request: Request) => exports.default.fetch(request),
});

describe('a typed client generated from the document (openapi-typescript + openapi-fetch)', () => {
  it('lists files and reads one', async () => {
    const uploaded = await uploadFile({ name: 'typed.txt', data: 'typed client', type: 'text/plain' }, { title: 'Typed' });

    const list = await client.GET('/files', { params: { query: { filter: JSON.stringify({ id: { _eq: uploaded.id } }), fields: 'id,title,filesize', meta: 'total_count' } } });
    expect(list.response.status).toBe(200);
    const rows = list.data?.data ?? [];
    expectTypeOf(list.data?.meta?.total_count).toEqualTypeOf<number | undefined>();
    expect(rows).toEqual([{ id: uploaded.id, title: 'Typed', filesize: '12' }]);

    const read = await client.GET('/files/{id}', { params: { path: { id: uploaded.id } } });
    const file = read.data?.data;
    expectTypeOf(file?.filesize).toEqualTypeOf<string | undefined>();
    expectTypeOf(file?.access).toEqualTypeOf<'public' | 'private' | undefined>();
    expect(file).toMatchObject({ id: uploaded.id, title: 'Typed', type: 'text/plain', access: 'public' });
  });

  it('types an error as Directus\'s envelope', async () => {
    const missing = await client.GET('/files/{id}', { params: { path: { id: crypto.randomUUID() } } });
    expect(missing.response.status).toBe(404);
    expect(missing.data).toBeUndefined();
    const code: string | undefined = missing.error?.errors[0]?.extensions.code;
    expect(code).toBe('NOT_FOUND');
  });

  it('makes a token with a typed body', async () => {
    const made = await client.POST('/tokens', { body: { name: 'typed-client', scope: 'read' } });
    // The types refuse what the API refuses (npm run typecheck fails if these stop being errors).
    // @ts-expect-error: no such scope
    void (() => client.POST('/tokens', { body: { name: 'x', scope: 'root' } }));
    // @ts-expect-error: no such route
    void (() => client.GET('/filez'));
    expectTypeOf(made.data?.data.token).toEqualTypeOf<string | undefined>();
    expect(made.data?.data).toMatchObject({ name: 'typed-client', scope: 'read', token: expect.stringMatching(/^ea_/) });
  });
});
