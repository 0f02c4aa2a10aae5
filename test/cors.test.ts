import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { app } from '../src/app';

describe('CORS (Directus variables)', () => {
  it('is off by default', async () => {
    const res = await app.request('/server/health', { headers: { origin: 'https://app.example' } }, env);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers preflights for allowed origins only', async () => {
    const vars = { ...env, CORS_ENABLED: 'true', CORS_ORIGIN: 'https://app.example,https://admin.example' };
    const preflight = await app.request(
      '/files',
      { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } },
      vars,
    );
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(preflight.headers.get('access-control-allow-methods')).toBe('GET,POST,PATCH,DELETE');
    expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
    const other = await app.request('/files', { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } }, vars);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const simple = await app.request('/server/health', { headers: { origin: 'https://admin.example' } }, vars);
    expect(simple.headers.get('access-control-allow-origin')).toBe('https://admin.example');
    expect(simple.headers.get('access-control-expose-headers')).toContain('X-Request-Id');
  });

  it('CORS_ORIGIN=true reflects any origin', async () => {
    const res = await app.request('/server/health', { headers: { origin: 'https://any.example' } }, { ...env, CORS_ENABLED: 'true', CORS_ORIGIN: 'true' });
    expect(res.headers.get('access-control-allow-origin')).toBe('https://any.example');
  });
});
