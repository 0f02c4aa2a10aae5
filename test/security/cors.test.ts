import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { app } from '../../src/app';
import { errorOf } from '../helpers';

/**
 * `CORS_ORIGIN=true` reflects real web origins only. `null` is the origin of every sandboxed frame,
 * data: URL and local file: allowing it, with credentials, would let any of them read answers.
 */
const reflecting = { ...env, CORS_ENABLED: 'true', CORS_ORIGIN: 'true' };

async function allowedOrigin(origin: string, vars: Record<string, unknown>, preflight = false): Promise<string | null> {
  const init: RequestInit = preflight
    ? { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } }
    : { headers: { origin } };
  const res = await app.request('/server/health', init, vars);
  await res.arrayBuffer();
  return res.headers.get('access-control-allow-origin');
}

describe('CORS_ORIGIN=true', () => {
  for (const origin of ['null', 'NULL', 'file://', 'https://app.example/path', 'javascript:alert(1)', 'https://app.example evil', '*']) {
    it(`never allows the origin "${origin}", simple or preflight`, async () => {
      expect(await allowedOrigin(origin, reflecting)).toBeNull();
      expect(await allowedOrigin(origin, reflecting, true)).toBeNull();
    });
  }

  it('reflects a web origin, with credentials and Vary: Origin', async () => {
    const res = await app.request('/server/health', { headers: { origin: 'https://app.example:8443' } }, reflecting);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example:8443');
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(res.headers.get('vary')).toMatch(/origin/i);
    expect(await allowedOrigin('http://[::1]:3000', reflecting)).toBe('http://[::1]:3000');
  });
});

describe('CORS_ORIGIN as a list', () => {
  it('allows exactly its origins', async () => {
    const vars = { ...env, CORS_ENABLED: 'true', CORS_ORIGIN: 'https://a.example, https://b.example' };
    expect(await allowedOrigin('https://b.example', vars)).toBe('https://b.example');
    for (const origin of ['null', 'https://a.example.evil', 'http://a.example', 'https://c.example']) expect(await allowedOrigin(origin, vars)).toBeNull();
  });

  for (const value of ['null', 'https://a.example,null', 'a.example', 'https://a.example/app']) {
    it(`refuses CORS_ORIGIN=${value} as configuration`, async () => {
      const res = await app.request('/server/health', {}, { ...env, CORS_ENABLED: 'true', CORS_ORIGIN: value });
      const error = await errorOf(res);
      expect(error).toMatchObject({ status: 500, code: 'INVALID_CONFIG' });
      expect(error.message).toMatch(/CORS_ORIGIN/);
    });
  }
});
