import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { app } from '../../src/app';
import { parseConfig } from '../../src/config';
import { ADMIN_TOKEN, errorOf, locationVars, newToken, s3 } from '../helpers';

/**
 * What the file library page learns before it uploads (`GET /files/s3/config`), and the page's
 * connect-src: large files go straight to the bucket only when ADMIN_DIRECT_UPLOAD_MIN_SIZE is set
 * and the default location can presign, and then the bucket's origin, and no other, joins connect-src.
 */
const assets = { fetch: async () => new Response('<!doctype html>', { headers: { 'content-type': 'text/html' } }) };
const direct = { ...env, ADMIN_DIRECT_UPLOAD_MIN_SIZE: '100mb', ASSETS: assets };
const bucketOrigin = new URL(s3.endpoint).origin;

async function offerWith(vars: Record<string, unknown>, token = ADMIN_TOKEN): Promise<Response> {
  return app.request('http://assets.test/files/s3/config', { headers: { authorization: `Bearer ${token}` } }, vars);
}

async function connectSrc(vars: Record<string, unknown>): Promise<string[]> {
  const res = await app.request('http://assets.test/admin/', {}, { ...vars, ASSETS: assets });
  const policy = res.headers.get('content-security-policy') ?? '';
  return (/(?:^|;\s*)connect-src ([^;]*)/.exec(policy)?.[1] ?? '').trim().split(/\s+/);
}

describe('the file library page and direct-to-bucket uploads', () => {
  it('ADMIN_DIRECT_UPLOAD_MIN_SIZE set: the threshold, the part size and the bucket origin; connect-src adds that origin only', async () => {
    const res = await offerWith(direct);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { enabled: true, storage: 'local', min_size: 100 * 1024 * 1024, part_size: 5 * 1024 * 1024, bucket_origin: bucketOrigin } });
    expect(await connectSrc(direct)).toEqual(["'self'", bucketOrigin]);
  });

  it('the part size is the location\'s TUS__CHUNK_SIZE; a virtual-hosted bucket is its own origin', async () => {
    const vars = { ...direct, STORAGE_LOCATIONS: 'vh', ...locationVars('vh', { ENDPOINT: 'https://s3.eu-west-1.amazonaws.com', FORCE_PATH_STYLE: 'false', TUS__CHUNK_SIZE: String(16 * 1024 * 1024) }) };
    const { data } = (await (await offerWith(vars)).json()) as { data: Record<string, unknown> };
    expect(data).toMatchObject({ enabled: true, storage: 'vh', part_size: 16 * 1024 * 1024, bucket_origin: `https://${s3.bucket}.s3.eu-west-1.amazonaws.com` });
    expect(await connectSrc(vars)).toEqual(["'self'", `https://${s3.bucket}.s3.eu-west-1.amazonaws.com`]);
  });

  it('unset, or a default location without KEY and SECRET: every file over TUS, connect-src \'self\' only', async () => {
    const anonymous = { ...direct, STORAGE_LOCATIONS: 'anon', ...locationVars('anon', { KEY: '', SECRET: '' }) };
    for (const vars of [env, anonymous]) {
      expect(await (await offerWith(vars)).json()).toEqual({ data: { enabled: false, storage: null, min_size: null, part_size: null, bucket_origin: null } });
      expect(await connectSrc(vars)).toEqual(["'self'"]);
    }
  });

  it('needs the upload scope, like the uploads themselves', async () => {
    const reader = await newToken('read');
    expect((await errorOf(await offerWith(direct, reader.token))).status).toBe(403);
    expect((await offerWith(direct, (await newToken('upload')).token)).status).toBe(200);
  });

  it('a threshold that is not a size is refused, naming the variable', () => {
    expect(() => parseConfig({ ...env, ADMIN_DIRECT_UPLOAD_MIN_SIZE: 'large' })).toThrow(/ADMIN_DIRECT_UPLOAD_MIN_SIZE/);
    expect(() => parseConfig({ ...env, ADMIN_DIRECT_UPLOAD_MIN_SIZE: '0' })).toThrow(/ADMIN_DIRECT_UPLOAD_MIN_SIZE.*at least 1 byte/);
  });
});
