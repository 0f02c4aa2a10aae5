import { env } from 'cloudflare:test';
import type { S3Target } from '../scripts/s3-target-type.ts';
import { parseConfig } from '../src/config';
import { S3Client } from '../src/storage/s3-client';

export const s3: S3Target = JSON.parse(env.TEST_S3);

/** The variables of a location named `name` on the test S3 server, with overrides. */
export function locationVars(name: string, overrides: Record<string, string> = {}): Record<string, string> {
  const p = `STORAGE_${name.toUpperCase()}_`;
  return {
    [`${p}ENDPOINT`]: s3.endpoint,
    [`${p}BUCKET`]: s3.bucket,
    [`${p}KEY`]: s3.accessKeyId,
    [`${p}SECRET`]: s3.secretAccessKey,
    [`${p}REGION`]: s3.region,
    [`${p}FORCE_PATH_STYLE`]: 'true',
    ...Object.fromEntries(Object.entries(overrides).map(([k, v]) => [`${p}${k}`, v])),
  };
}

/** An S3 client for a one-off location on the test server (e.g. with a ROOT or a wrong secret). */
export function testClient(overrides: Record<string, string> = {}): S3Client {
  const config = parseConfig({ STORAGE_LOCATIONS: 't', ...locationVars('t', overrides) });
  return new S3Client(config.defaultLocation);
}

/** A key no other test uses. */
export function uniqueKey(prefix = 'test'): string {
  return `${prefix}/${crypto.randomUUID()}`;
}

export async function sha256(data: ArrayBuffer | Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', data);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Deterministic pseudo-random bytes (fast, no crypto quota limits). */
export function bytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A stream that yields `data` in chunks of `chunk` bytes. */
export function streamOf(data: Uint8Array, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= data.byteLength) return controller.close();
      controller.enqueue(data.slice(at, at + chunk));
      at += chunk;
    },
  });
}
