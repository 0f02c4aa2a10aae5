import { createDirectus, rest, serverInfo, serverPing, staticToken } from '@directus/sdk';
import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, api, newToken } from './helpers';

/** The official Directus SDK, its requests routed into the Worker under test. */
const sdk = createDirectus('http://assets.test', {
  globals: { fetch: ((input: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(new Request(input, init))) as typeof fetch },
})
  .with(staticToken(ADMIN_TOKEN))
  .with(rest());

describe('@directus/sdk server calls', () => {
  it('serverPing and serverInfo', async () => {
    expect(await sdk.request(serverPing())).toBe('pong');
    expect(await sdk.request(serverInfo())).toMatchObject({ project: { project_name: 'edge-assets' }, queryLimit: { default: 100 } });
  });
});

describe('GET /server/ping', () => {
  it('answers pong as text, without a token', async () => {
    const res = await api('/server/ping', { token: null });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toBe('pong');
  });
});

describe('GET /server/info', () => {
  it('gives everyone the project, and nothing about limits', async () => {
    const res = await api('/server/info', { token: null });
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as { data: Record<string, unknown> };
    expect(data.project).toMatchObject({ project_name: 'edge-assets' });
    expect(Object.keys(data)).toEqual(['project']);
  });

  it('gives any valid token the query limits, as Directus answers a signed-in user', async () => {
    for (const token of [ADMIN_TOKEN, (await newToken('read')).token]) {
      const res = await api('/server/info', { token });
      const { data } = (await res.json()) as { data: Record<string, unknown> };
      expect(data).toMatchObject({ queryLimit: { default: 100, max: 5000 }, rateLimit: false, websocket: false });
      expect(JSON.stringify(data)).not.toContain(token);
    }
  });

  it('refuses a wrong token as every route does', async () => {
    const res = await api('/server/info', { token: 'not-a-token' });
    expect(res.status).toBe(401);
  });
});
