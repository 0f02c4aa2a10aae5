import type { Config } from '../config';
import { AppError } from '../errors/app-error';
import { base64url } from '../lib/bytes';

/** Parameters that never take part in a signature. */
const UNSIGNED = new Set(['signature', 'access_token', 'expires_in']);
const MAX_EXPIRES_IN = 7 * 24 * 3600;
const keyCache = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keyCache.get(secret);
  if (!key) {
    key = crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    keyCache.set(secret, key);
  }
  return key;
}

/** What is signed: the path and every parameter (sorted, percent-encoded), `expires` included. */
function stringToSign(path: string, params: URLSearchParams): Uint8Array {
  const entries = [...params].filter(([k]) => !UNSIGNED.has(k)).sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
  const query = entries.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return new TextEncoder().encode(`${path}?${query}`);
}

function fromBase64url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  try {
    return Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function keys(config: Config): string[] {
  if (config.assets.signingKeys.length === 0) {
    throw new AppError('INVALID_CONFIG', 'Signed URLs need ASSETS_SIGNING_KEY (one or more comma-separated keys of at least 32 characters).');
  }
  return config.assets.signingKeys;
}

/**
 * A signed, expiring `/assets/<id>` URL carrying `params` (transform parameters, `download`):
 * HMAC-SHA256 with the first ASSETS_SIGNING_KEY over the path and every parameter.
 */
export async function signAssetUrl(config: Config, origin: string, id: string, params: URLSearchParams): Promise<string> {
  const raw = params.get('expires_in') ?? '3600';
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_EXPIRES_IN) {
    throw new AppError('INVALID_QUERY', `"expires_in" must be a whole number of seconds from 1 to ${MAX_EXPIRES_IN}.`);
  }
  const url = new URL(`/assets/${id}`, origin);
  for (const [k, v] of params) if (!UNSIGNED.has(k) && k !== 'expires') url.searchParams.append(k, v);
  url.searchParams.set('expires', String(Math.floor(Date.now() / 1000) + Number(raw)));
  const signature = await crypto.subtle.sign('HMAC', await hmacKey(keys(config)[0] as string), stringToSign(url.pathname, url.searchParams));
  url.searchParams.set('signature', base64url(signature));
  return url.toString();
}

/**
 * Checks a signed URL: the signature against every configured key (crypto.subtle.verify compares
 * in constant time), then the expiry. Returns the seconds left. Tampering with the path, any
 * parameter or `expires` is a 403; an expired URL a 410.
 */
export async function verifyAssetSignature(config: Config, url: URL): Promise<number> {
  const signature = fromBase64url(url.searchParams.get('signature') ?? '');
  const expires = url.searchParams.get('expires');
  const data = stringToSign(url.pathname, url.searchParams);
  let valid = false;
  if (signature && expires !== null) {
    for (const secret of keys(config)) {
      if (await crypto.subtle.verify('HMAC', await hmacKey(secret), signature, data)) valid = true;
    }
  }
  if (!valid) throw new AppError('INVALID_SIGNATURE', 'The URL signature is not valid for this path and these parameters.');
  const left = Number(expires) - Math.floor(Date.now() / 1000);
  if (!(left > 0)) throw new AppError('SIGNATURE_EXPIRED', 'This signed URL has expired; ask for a new one.');
  return left;
}
