import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { app } from '../../src/app';
import { parseConfig } from '../../src/config';
import { s3Error, timeoutError, unreachableError } from '../../src/storage/s3-errors';
import { ADMIN_TOKEN, bytes, form, locationVars, s3, uploadFile } from '../helpers';

/**
 * A storage failure tells an API client which location failed and which variable to check, and
 * nothing about where the store is: no bucket, endpoint, root, key or secret in any answer (the
 * health check is public). The operator's log line may name the bucket and endpoint, never the secret.
 */
const BUCKET = `leaky-bucket-${crypto.randomUUID().slice(0, 8)}`;
const ROOT = `secret-root-${crypto.randomUUID().slice(0, 8)}`;
const endpoint = new URL(s3.endpoint);
const warnings: string[] = [];

afterEach(() => {
  vi.restoreAllMocks();
  warnings.length = 0;
});

/** The Worker with one storage location, `local`, configured with `overrides`. */
function broken(overrides: Record<string, string>): Record<string, unknown> {
  const base = Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('STORAGE_')));
  return { ...base, STORAGE_LOCATIONS: 'local', ...locationVars('local', { ROOT, ...overrides }) };
}

function secretsOf(vars: Record<string, unknown>): string[] {
  return [String(vars.STORAGE_LOCAL_BUCKET), ROOT, endpoint.host, endpoint.origin, String(vars.STORAGE_LOCAL_ENDPOINT), String(vars.STORAGE_LOCAL_KEY), String(vars.STORAGE_LOCAL_SECRET)];
}

async function answers(vars: Record<string, unknown>, fileId: string): Promise<{ path: string; status: number; text: string }[]> {
  vi.spyOn(console, 'warn').mockImplementation((line: unknown) => void warnings.push(String(line)));
  vi.spyOn(console, 'error').mockImplementation(() => {});
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const requests: [string, RequestInit][] = [
    ['/server/health', {}],
    ['/files', { method: 'POST', headers: auth, body: form([{ name: 'a.bin', data: bytes(1000, 3) }]) }],
    [`/assets/${fileId}`, { headers: auth }],
    [`/assets/${fileId}?width=20`, { headers: auth }],
  ];
  const out = [];
  for (const [path, init] of requests) {
    const res = await app.request(path, init, vars);
    out.push({ path, status: res.status, text: `${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n${await res.text()}` });
  }
  return out;
}

const failures: [string, Record<string, string>, RegExp][] = [
  ['NoSuchBucket', { BUCKET }, /STORAGE_BUCKET_NOT_FOUND/],
  ['AccessDenied (an unknown key)', { KEY: 'NOT-A-KEY-0123' }, /STORAGE_ACCESS_DENIED/],
  ['an unreachable endpoint', { ENDPOINT: 'http://127.0.0.1:1', CONNECTION_TIMEOUT: '2000' }, /STORAGE_UNREACHABLE|STORAGE_TIMEOUT/],
  ['an endpoint with a path (a configuration error)', { ENDPOINT: 'http://127.0.0.1:1/private-gateway-path' }, /INVALID_CONFIG/],
];

describe('storage errors name the location and the variable, never where the store is', () => {
  for (const [what, overrides, code] of failures) {
    it(`${what}: no answer names the bucket, endpoint, root, key or secret`, async () => {
      const file = await uploadFile({ name: 'kept.png', data: bytes(500, 9), type: 'application/octet-stream' });
      const vars = broken(overrides);
      const secrets = secretsOf(vars);
      const all = await answers(vars, file.id);
      for (const { path, text } of all) {
        for (const secret of secrets) expect(text, `${path} names ${secret}`).not.toContain(secret);
      }
      // The health check and an upload reach the store: each says which location and variable.
      for (const { path, status, text } of all.filter((a) => a.path === '/server/health' || a.path === '/files')) {
        const unescaped = text.replaceAll('\\"', '"');
        expect(status, `${path}: ${text}`).toBeGreaterThanOrEqual(500);
        expect(unescaped, path).toMatch(code);
        expect(unescaped, path).toMatch(/STORAGE_LOCAL_[A-Z]+/);
        if (!code.source.includes('INVALID_CONFIG')) expect(unescaped, path).toMatch(/storage location "local"/);
      }
      for (const line of warnings) {
        expect(line).not.toContain(String(vars.STORAGE_LOCAL_SECRET));
      }
    });
  }

  it('the operator still learns the bucket and endpoint from the log', async () => {
    const file = await uploadFile({ name: 'kept.bin', data: bytes(500, 10) });
    await answers(broken({ BUCKET }), file.id);
    expect(warnings.some((line) => line.includes('storage misconfigured') && line.includes(BUCKET) && line.includes(endpoint.host))).toBe(true);
  });
});

describe('every S3 failure, as the adapter words it', () => {
  // Built only: nothing is sent to this endpoint.
  const secret = { BUCKET: 'acme-private-bucket', ROOT: 'tenant-7f3a', ENDPOINT: 'https://s3.storage-host.example:9443', KEY: 'AKIAEXAMPLEKEY000001', SECRET: 'wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY' };
  const location = parseConfig({ STORAGE_LOCATIONS: 'local', ...locationVars('local', secret) }).defaultLocation;
  const hidden = [...Object.values(secret), 'storage-host.example'];
  const xml = (code: string, extra = '') => `<?xml version="1.0"?><Error><Code>${code}</Code><Message>The bucket acme-private-bucket at s3.storage-host.example: tenant-7f3a/x.jpg</Message><BucketName>acme-private-bucket</BucketName>${extra}</Error>`;
  const answers: [string, number, string][] = [
    ['AccessDenied', 403, xml('AccessDenied')],
    ['InvalidAccessKeyId', 403, xml('InvalidAccessKeyId')],
    ['SignatureDoesNotMatch', 403, xml('SignatureDoesNotMatch', '<StringToSign>AWS4-HMAC-SHA256 acme-private-bucket</StringToSign>')],
    ['RequestTimeTooSkewed', 403, xml('RequestTimeTooSkewed')],
    ['NoSuchBucket', 404, xml('NoSuchBucket')],
    ['NoSuchKey', 404, xml('NoSuchKey', '<Key>tenant-7f3a/x.jpg</Key>')],
    ['NoSuchUpload', 404, xml('NoSuchUpload')],
    ['PermanentRedirect', 301, xml('PermanentRedirect', '<Endpoint>acme-private-bucket.s3.storage-host.example</Endpoint>')],
    ['InternalError', 500, xml('InternalError')],
    ['SlowDown', 503, xml('SlowDown')],
    ['an unknown code', 409, xml('BucketAlreadyOwnedByYou')],
    ['a code that is not a word', 400, xml('No bucket acme-private-bucket')],
    ['HEAD 403 (no body)', 403, ''],
    ['HEAD 404 (no body)', 404, ''],
    ['HEAD 301 (no body)', 301, ''],
  ];
  for (const [what, status, body] of answers) {
    it(`${what}: names the location and a variable, never the bucket, endpoint, root or key`, () => {
      const error = s3Error(location, 'GetObject', new Response(null, { status }), body);
      vi.spyOn(console, 'warn').mockImplementation(() => {});
      expect(error.message).toMatch(/storage location "local"/);
      const answer = JSON.stringify({ message: error.message, extensions: error.extensions });
      for (const value of hidden) expect(answer, what).not.toContain(value);
    });
  }

  it('unreachable and timed out: the location and the variable, not the endpoint', () => {
    vi.spyOn(console, 'warn').mockImplementation((line: unknown) => void warnings.push(String(line)));
    for (const error of [unreachableError(location, 'PutObject', new Error('connect ECONNREFUSED')), timeoutError(location, 'PutObject', 5000, 'CONNECTION_TIMEOUT')]) {
      expect(error.message).toMatch(/storage location "local".*STORAGE_LOCAL_(ENDPOINT|CONNECTION_TIMEOUT)/);
      for (const value of hidden) expect(JSON.stringify({ message: error.message, extensions: error.extensions })).not.toContain(value);
    }
    expect(warnings.join('\n')).toContain('storage-host.example');
    expect(warnings.join('\n')).not.toContain(secret.SECRET);
  });
});
