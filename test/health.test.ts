import { env } from 'cloudflare:test';
import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { app } from '../src/app';
import { locationVars } from './helpers';

/** The Worker with a different environment: same bindings, other variables. */
function withVars(vars: Record<string, string>) {
  const base = Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('STORAGE_')));
  return { ...base, ...vars };
}

describe('GET /server/health', () => {
  it('answers ok when D1 and the default storage answer', async () => {
    const res = await exports.default.fetch('http://example.com/server/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    expect(res.headers.get('x-request-id')).toMatch(/.+/);
  });

  it('answers 503 naming the storage check when the bucket is missing', async () => {
    const vars = withVars({ STORAGE_LOCATIONS: 'broken', ...locationVars('broken', { BUCKET: 'no-such-bucket-health' }) });
    const res = await app.request('/server/health', {}, vars);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { status: string; checks: Record<string, { status: string; code?: string; output?: string }> };
    expect(body.status).toBe('error');
    expect(body.checks.database?.status).toBe('ok');
    expect(body.checks['storage:broken']).toMatchObject({ status: 'error', code: 'STORAGE_BUCKET_NOT_FOUND' });
    expect(body.checks['storage:broken']?.output).toMatch(/STORAGE_BROKEN_BUCKET/);
  });

  it('answers 503 naming the database check when D1 fails', async () => {
    const failingDb = {
      prepare: () => ({ first: () => Promise.reject(new Error('D1_ERROR: database unavailable')) }),
      withSession: () => ({ ...failingDb, getBookmark: () => null }),
    };
    const res = await app.request('/server/health', {}, { ...env, DB: failingDb });
    expect(res.status).toBe(503);
    const body = (await res.json()) as { checks: Record<string, { status: string }> };
    expect(body.checks.database?.status).toBe('error');
    expect(body.checks['storage:local']?.status).toBe('ok');
  });
});

describe('configuration errors', () => {
  it('every request gets a 500 INVALID_CONFIG naming the variable, never the secret', async () => {
    const vars = withVars({ STORAGE_LOCATIONS: 'aws', STORAGE_AWS_BUCKET: 'b', STORAGE_AWS_SECRET: 'the-secret-value' });
    for (const path of ['/server/health', '/anything']) {
      const res = await app.request(path, {}, vars);
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(text).not.toContain('the-secret-value');
      const body = JSON.parse(text) as { errors: { message: string; extensions: { code: string } }[] };
      expect(body.errors[0]?.extensions.code).toBe('INVALID_CONFIG');
      expect(body.errors[0]?.message).toMatch(/STORAGE_AWS_KEY is required when STORAGE_AWS_SECRET is set/);
    }
  });
});

describe('routing', () => {
  it('an unknown route is a 404 envelope', async () => {
    const res = await exports.default.fetch('http://example.com/nope');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ errors: [{ message: 'Route GET /nope doesn\'t exist.', extensions: { code: 'ROUTE_NOT_FOUND' } }] });
  });
});
