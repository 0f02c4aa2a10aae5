import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';

describe('GET /server/health', () => {
  it('answers ok when D1 and the default storage answer', async () => {
    const res = await exports.default.fetch('http://example.com/server/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    expect(res.headers.get('x-request-id')).toMatch(/.+/);
  });
});
