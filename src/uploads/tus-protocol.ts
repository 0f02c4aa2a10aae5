import { AppError, type ErrorCode } from '../errors/app-error';
import { dict, isForbiddenKey } from '../lib/safe-keys';

/** tus.io resumable upload protocol 1.0.0. */
export const TUS_VERSION = '1.0.0';
/** `concatenation-unfinished` is not offered: a final upload names completed partial uploads. */
export const TUS_EXTENSIONS = ['creation', 'creation-with-upload', 'creation-defer-length', 'expiration', 'checksum', 'termination', 'concatenation'];
/** Upload-Checksum algorithms (names from the IANA hash registry, as the protocol asks). */
export const CHECKSUM_ALGORITHMS = { sha1: 'SHA-1', md5: 'MD5', sha256: 'SHA-256' } as const;
export type ChecksumAlgorithm = keyof typeof CHECKSUM_ALGORITHMS;

export const OFFSET_CONTENT_TYPE = 'application/offset+octet-stream';

/** Headers a browser needs to read (CORS `Access-Control-Expose-Headers`). */
export const TUS_EXPOSED_HEADERS = [
  'Upload-Offset',
  'Upload-Length',
  'Upload-Defer-Length',
  'Upload-Expires',
  'Upload-Metadata',
  'Upload-Concat',
  'Location',
  'Tus-Resumable',
  'Tus-Version',
  'Tus-Extension',
  'Tus-Max-Size',
  'Tus-Checksum-Algorithm',
  'Directus-File-Id',
];

/** An RPC answer: errors cross the RPC boundary as data, so status and code survive. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; message: string };

export const refusal = (error: AppError): Outcome<never> => ({ ok: false, code: error.code, message: error.message });

/** A TUS protocol error: the status is the protocol's, the body our envelope. */
export function tusError(status: 400 | 403 | 404 | 409 | 410 | 412 | 413 | 415 | 423 | 460, message: string, code?: ErrorCode): AppError {
  const codes = {
    400: 'INVALID_PAYLOAD',
    403: 'FORBIDDEN',
    404: 'NOT_FOUND',
    409: 'UPLOAD_CONFLICT',
    410: 'UPLOAD_GONE',
    412: 'TUS_VERSION_UNSUPPORTED',
    413: 'CONTENT_TOO_LARGE',
    415: 'UNSUPPORTED_MEDIA_TYPE',
    423: 'UPLOAD_LOCKED',
    460: 'CHECKSUM_MISMATCH',
  } as const;
  return new AppError(code ?? codes[status], message);
}

/**
 * Parses `Upload-Metadata`: comma-separated `key base64value` pairs (the value may be absent).
 * Keys are unique, non-empty and without spaces or commas; values must be valid base64 of UTF-8.
 * `__proto__`, `constructor` and `prototype` are refused as keys (400).
 */
export function parseUploadMetadata(header: string | null): Record<string, string> {
  if (header === null || header.trim() === '') return {};
  const out = dict<string>();
  for (const pair of header.split(',')) {
    const [key, value, extra] = pair.trim().split(' ');
    if (key !== undefined && isForbiddenKey(key)) throw tusError(400, `"${key}" cannot be an Upload-Metadata key.`);
    if (!key || extra !== undefined || key in out) throw tusError(400, `Malformed Upload-Metadata near "${pair.trim().slice(0, 40)}".`);
    if (value === undefined || value === '') {
      out[key] = '';
      continue;
    }
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) throw tusError(400, `Upload-Metadata value of "${key}" is not base64.`);
    try {
      out[key] = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(atob(value), (c) => c.charCodeAt(0)));
    } catch {
      throw tusError(400, `Upload-Metadata value of "${key}" is not base64 of UTF-8 text.`);
    }
  }
  // A plain object again for the RPC to the Durable Object (structured clone refuses prototype-less
  // ones); safe now that no key can be one of the prototype's.
  return { ...out };
}

/** A non-negative integer header (Upload-Offset, Upload-Length), or undefined when absent. */
export function integerHeader(headers: Headers, name: string): number | undefined {
  const raw = headers.get(name);
  if (raw === null) return undefined;
  if (!/^\d{1,16}$/.test(raw.trim())) throw tusError(400, `${name} must be a non-negative integer.`);
  return Number(raw.trim());
}

/** `Upload-Checksum: <algorithm> <base64 digest>`. */
export function parseUploadChecksum(header: string | null): { algorithm: ChecksumAlgorithm; digest: string } | undefined {
  if (header === null) return undefined;
  const [algorithm, digest] = header.trim().split(/\s+/);
  if (!algorithm || !digest) throw tusError(400, 'Upload-Checksum must be "<algorithm> <base64 digest>".');
  if (!(algorithm in CHECKSUM_ALGORITHMS)) {
    throw tusError(400, `Unsupported checksum algorithm "${algorithm}"; supported: ${Object.keys(CHECKSUM_ALGORITHMS).join(', ')}.`);
  }
  return { algorithm: algorithm as ChecksumAlgorithm, digest };
}

/**
 * The most partial uploads one final upload may name. The list travels in a header both ways (the
 * final POST's Upload-Concat, and HEAD's answer): 100 URLs of ~100 bytes stay under the 16 KiB that
 * Node's fetch and common proxies accept for headers, where 1,000 overflowed them.
 */
export const MAX_PARTIALS = 100;

/** Upload ids (Durable Object ids): 64 hex digits. */
const UPLOAD_ID = /^[0-9a-f]{64}$/;

/**
 * `Upload-Concat: partial`, or `final;<url> <url>…` naming partial uploads (absolute or relative
 * URLs of this server's uploads, in order); for a final one, the upload ids. A partial upload is
 * used once: one named twice (in any URL form) is refused, or a 100 KB upload listed 1,000 times
 * would make a 100 MB file.
 */
export function parseUploadConcat(header: string | null, base: string): { partial: true } | { final: string[]; header: string } | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (value === 'partial') return { partial: true };
  if (!value.startsWith('final;')) throw tusError(400, 'Upload-Concat must be "partial" or "final;<url> <url>…".');
  const urls = value.slice('final;'.length).trim().split(/\s+/).filter(Boolean);
  if (urls.length === 0) throw tusError(400, 'Upload-Concat: final names no partial uploads.');
  if (urls.length > MAX_PARTIALS) throw tusError(400, `Upload-Concat: final names ${urls.length} partial uploads; at most ${MAX_PARTIALS} are allowed.`);
  const ids = urls.map((u) => {
    let id: string | undefined;
    try {
      id = new URL(u, base).pathname.split('/').pop();
    } catch {
      id = undefined;
    }
    if (!id || !UPLOAD_ID.test(id)) throw tusError(400, `Upload-Concat: "${u.slice(0, 80)}" is not an upload URL of this server.`);
    return id;
  });
  const seen = new Set<string>();
  for (const [i, id] of ids.entries()) {
    if (seen.has(id)) throw tusError(400, `Upload-Concat: "${urls[i]?.slice(0, 80)}" names a partial upload already in the list; each may be used once.`);
    seen.add(id);
  }
  return { final: ids, header: `final;${urls.join(' ')}` };
}
