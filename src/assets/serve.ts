import type { Config } from '../config';
import type { FileRow } from '../db/schema';
import { AppError } from '../errors/app-error';
import { storageFor } from '../storage';
import { isPassiveType, wellFormedType } from '../files/media-type';
import { contentDisposition, evaluateConditionals, evaluateRange, type Validators } from './http';

export interface ServeOptions {
  method: string;
  headers: Headers;
  /** `?download`: attachment instead of inline. */
  download: boolean;
  /** The `/assets/:id/:filename` segment, which overrides the download name. */
  filename: string | undefined;
  /** True when the asset needed a token: the response must not be stored by shared caches. */
  private: boolean;
  /** A shorter max-age (a signed URL must not outlive its expiry in a cache). */
  maxAge?: number;
}

/** `public` or `private` (needed a token, a signature or is a private file), never past a signature's expiry. */
export function cacheControl(config: Config, o: { private: boolean; maxAge?: number }): string {
  const maxAge = Math.min(config.assets.cacheTtlSeconds, o.maxAge ?? Number.POSITIVE_INFINITY);
  return `${o.private ? 'private' : 'public'}, max-age=${maxAge}`;
}

/** The validators of a file: the ETag is its SHA-256, so it changes exactly when the bytes do. */
export function validatorsOf(row: FileRow): Validators {
  const version = row.checksum ?? `${row.id}-${Date.parse(row.uploadedOn ?? row.modifiedOn)}`;
  return { etag: `"${version}"`, lastModified: new Date(row.uploadedOn ?? row.createdOn) };
}

/**
 * Serves a file's original bytes from storage, streaming: conditionals answered from the record
 * (no storage request for a 304), ranges resolved to absolute byte positions before S3 sees them.
 */
export async function serveOriginal(config: Config, row: FileRow, o: ServeOptions): Promise<Response> {
  const v = validatorsOf(row);
  const headers = new Headers({
    ETag: v.etag,
    'Last-Modified': v.lastModified.toUTCString(),
    'Cache-Control': cacheControl(config, o),
    'X-Content-Type-Options': 'nosniff',
  });
  if (!isPassiveType(row.type)) headers.set('Content-Security-Policy', config.assets.contentSecurityPolicy);

  const outcome = evaluateConditionals(o.headers, o.method, v);
  if (outcome === 'not-modified') return new Response(null, { status: 304, headers });
  if (outcome === 'precondition-failed') return new Response(null, { status: 412, headers });

  // A record written before types were checked may hold a malformed one: it is never echoed.
  headers.set('Content-Type', wellFormedType(row.type) ?? 'application/octet-stream');
  headers.set('Accept-Ranges', 'bytes');
  headers.set('Content-Disposition', contentDisposition(o.download ? 'attachment' : 'inline', o.filename ?? row.filenameDownload));

  const client = storageFor(config, row.storage);
  const key = row.filenameDisk ?? row.id;
  const missing = () => {
    console.error(`inconsistency: file ${row.id} has a record but no object "${key}" in storage "${row.storage}"`);
    return new AppError('NOT_FOUND', `File "${row.id}" has no stored bytes.`);
  };

  if (o.method === 'HEAD') {
    const info = await client.headObject(key);
    if (!info) throw missing();
    headers.set('Content-Length', String(info.size));
    return new Response(null, { status: 200, headers });
  }

  const size = row.filesize;
  const range = evaluateRange(o.headers, size, v);
  if (range.kind === 'unsatisfiable') {
    throw new AppError('RANGE_NOT_SATISFIABLE', `The range is outside the file's ${size} bytes.`, {
      headers: { 'Content-Range': `bytes */${size}` },
    });
  }
  const object = await client.getObject(key, range.kind === 'partial' ? { range: `bytes=${range.start}-${range.end}` } : {});
  if (!object?.body) throw missing();
  const length = range.kind === 'partial' ? range.end - range.start + 1 : object.size;
  headers.set('Content-Length', String(length));
  if (range.kind === 'partial') headers.set('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
  // A fixed-length body keeps Content-Length on the wire (a plain transformed stream would be chunked).
  const body = object.body.pipeThrough(new FixedLengthStream(length));
  return new Response(body, { status: range.kind === 'partial' ? 206 : 200, headers });
}
