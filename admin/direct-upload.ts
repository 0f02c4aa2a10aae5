/**
 * Direct-to-bucket uploads for the file library page, and the rule that says which files go that way
 * (the rest go through TUS).
 *
 * Uppy 6's AwsS3 plugin (6.3) has no per-step functions any more: its `companionEndpoint` mode calls
 * exactly the routes under `/files/s3` (Companion's), but sends no headers of ours, so the page lets
 * `withBearerToken` add the token to those calls (the part PUTs to the bucket go by XHR, untouched):
 *   import AwsS3 from '@uppy/aws-s3';
 *   import { directChunkSize, goesDirect, withBearerToken } from './direct-upload';
 *   withBearerToken(() => token);
 *   uppy.use(AwsS3, { companionEndpoint: `${location.origin}/files`, shouldUseMultipart: true, getChunkSize: directChunkSize(offer) });
 * with `offer` what `GET /files/s3/config` answers, and files for which `goesDirect(file.size, offer)`
 * is false handed to a second Uppy with the Tus plugin instead (upload.ts). The five
 * functions of `directUploadOptions` are the same calls for clients that take them (Uppy 3–5's
 * AwsS3 `createMultipartUpload`, `signPart`, `listParts`, `completeMultipartUpload`,
 * `abortMultipartUpload`) or for an uploader of one's own.
 */

/** Adds `Authorization: Bearer <token>` to this page's calls under `<origin>/files/s3/`, and to no other request. */
export function withBearerToken(token: () => string, apiOrigin = location.origin): void {
  const original = globalThis.fetch.bind(globalThis);
  const prefix = `${apiOrigin}/files/s3/`;
  globalThis.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : new URL(String(input), location.href).href;
    if (!url.startsWith(prefix)) return original(input, init);
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.set('authorization', `Bearer ${token()}`);
    return original(input, { ...init, headers });
  };
}

/** What `GET /files/s3/config` answers: whether, from what size and in which parts the page goes direct. */
export interface DirectOffer {
  enabled: boolean;
  min_size: number | null;
  part_size: number | null;
}

/** Whether a file of `size` bytes goes straight to the bucket: the location allows it and the file is large enough. */
export function goesDirect(size: number | null, offer: DirectOffer | undefined): boolean {
  return offer?.enabled === true && offer.min_size !== null && size !== null && size >= offer.min_size;
}

/** Equal parts of the location's part size, as R2 requires; larger only when 10,000 would not hold the file. */
export function directChunkSize(offer: DirectOffer): (file: { size: number | null }) => number {
  return (file) => Math.max(offer.part_size ?? 0, Math.ceil((file.size ?? 0) / 10_000));
}

interface UppyFile {
  name?: string;
  type?: string;
  meta: Record<string, unknown>;
}

interface UploadRef {
  uploadId: string;
  key: string;
  signal?: AbortSignal | null;
}

interface Part {
  PartNumber: number;
  ETag: string;
  Size?: number;
}

/** The fields of the record that Uppy's meta may carry (the rest of Uppy's meta is its own). */
const RECORD_FIELDS = ['title', 'description', 'tags', 'folder', 'storage', 'access', 'location', 'filename_download'];

/** The five AwsS3 functions, calling `/files/s3` with the page's token (read when each call is made). */
export function directUploadOptions(token: () => string, base = '') {
  const call = async <T>(path: string, init: RequestInit & { signal?: AbortSignal | null } = {}): Promise<T> => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${token()}`);
    if (init.body !== undefined) headers.set('content-type', 'application/json');
    const res = await fetch(`${base}/files/s3${path}`, { ...init, headers });
    const body = (await res.json().catch(() => ({}))) as T & { errors?: { message: string }[] };
    if (!res.ok) throw new Error(body.errors?.[0]?.message ?? `${res.status} ${res.statusText}`);
    return body;
  };
  const at = (ref: UploadRef, rest = '') => `/multipart/${encodeURIComponent(ref.uploadId)}${rest}?key=${encodeURIComponent(ref.key)}`;
  return {
    createMultipartUpload: (file: UppyFile) =>
      call<{ uploadId: string; key: string }>('/multipart', {
        method: 'POST',
        body: JSON.stringify({
          filename: file.name ?? 'file',
          type: file.type ?? 'application/octet-stream',
          metadata: Object.fromEntries(RECORD_FIELDS.filter((f) => file.meta[f] !== undefined).map((f) => [f, file.meta[f]])),
        }),
      }),
    signPart: (_file: UppyFile, ref: UploadRef & { partNumber: number }) => call<{ url: string }>(at(ref, `/${ref.partNumber}`), { signal: ref.signal ?? null }),
    listParts: (_file: UppyFile, ref: UploadRef) => call<Part[]>(at(ref), { signal: ref.signal ?? null }),
    completeMultipartUpload: (_file: UppyFile, ref: UploadRef & { parts: Part[] }) =>
      call<{ location: string }>(at(ref, '/complete'), {
        method: 'POST',
        body: JSON.stringify({ parts: ref.parts.map((p) => ({ PartNumber: p.PartNumber, ETag: p.ETag })) }),
        signal: ref.signal ?? null,
      }),
    abortMultipartUpload: async (_file: UppyFile, ref: UploadRef) => {
      await call<object>(at(ref), { method: 'DELETE', signal: ref.signal ?? null });
    },
  };
}
