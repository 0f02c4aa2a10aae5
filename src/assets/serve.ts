import type { Config } from '../config';
import type { FileRow } from '../db/schema';
import { AppError } from '../errors/app-error';
import { isPassiveType, wellFormedType } from '../files/media-type';
import { storageFor } from '../storage';
import { contentDisposition, evaluateConditionals, evaluateRange, type Validators } from './http';
import { log } from '../lib/log';

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

/** What is known of an original before its bytes are read. */
export interface Representation {
  fileId: string;
  validators: Validators;
  /** The stored type (served as octet-stream when it is not a well-formed `type/subtype`). */
  type: string | null;
  /** The download name. */
  name: string;
  size: number;
}

/** Where an original's bytes come from: storage, or an edge-cache entry. */
export interface ByteSource {
  /** The whole representation, or bytes start..end (inclusive); null when it is gone. */
  read(range?: { start: number; end: number }): Promise<ReadableStream<Uint8Array> | null>;
  /** For HEAD: the size the source reports (storage is asked, so a lost object is a 404 there too). */
  size(): Promise<number | null>;
  /** Called when the whole body will not be read (304, 412, HEAD, a range). */
  discard(): Promise<void>;
}

/**
 * Answers for an original, streaming: conditionals answered from the validators (no read for a
 * 304), ranges resolved to absolute byte positions before the source sees them.
 */
export async function answerOriginal(config: Config, rep: Representation, source: ByteSource, o: ServeOptions, extra: Record<string, string> = {}): Promise<Response> {
  const v = rep.validators;
  const headers = new Headers({
    ETag: v.etag,
    'Last-Modified': v.lastModified.toUTCString(),
    'Cache-Control': cacheControl(config, o),
    'X-Content-Type-Options': 'nosniff',
    ...extra,
  });
  if (!isPassiveType(rep.type)) headers.set('Content-Security-Policy', config.assets.contentSecurityPolicy);

  const outcome = evaluateConditionals(o.headers, o.method, v);
  if (outcome !== 'proceed') {
    await source.discard();
    return new Response(null, { status: outcome === 'not-modified' ? 304 : 412, headers });
  }

  // A record written before types were checked may hold a malformed one: it is never echoed.
  headers.set('Content-Type', wellFormedType(rep.type) ?? 'application/octet-stream');
  headers.set('Accept-Ranges', 'bytes');
  headers.set('Content-Disposition', contentDisposition(o.download ? 'attachment' : 'inline', o.filename ?? rep.name));

  if (o.method === 'HEAD') {
    await source.discard();
    const size = await source.size();
    if (size === null) throw missing(rep);
    headers.set('Content-Length', String(size));
    return new Response(null, { status: 200, headers });
  }

  const range = evaluateRange(o.headers, rep.size, v);
  if (range.kind === 'unsatisfiable') {
    await source.discard();
    throw new AppError('RANGE_NOT_SATISFIABLE', `The range is outside the file's ${rep.size} bytes.`, {
      headers: { 'Content-Range': `bytes */${rep.size}` },
    });
  }
  if (range.kind === 'partial') await source.discard();
  const body = await source.read(range.kind === 'partial' ? range : undefined);
  if (!body) throw missing(rep);
  const length = range.kind === 'partial' ? range.end - range.start + 1 : rep.size;
  headers.set('Content-Length', String(length));
  if (range.kind === 'partial') headers.set('Content-Range', `bytes ${range.start}-${range.end}/${rep.size}`);
  // A fixed-length body keeps Content-Length on the wire (a plain transformed stream would be chunked).
  return new Response(body.pipeThrough(new FixedLengthStream(length)), { status: range.kind === 'partial' ? 206 : 200, headers });
}

function missing(rep: Representation): AppError {
  return new AppError('NOT_FOUND', `File "${rep.fileId}" has no stored bytes.`);
}

/** What a file's record says of its original. */
export function representationOf(row: FileRow): Representation {
  return { fileId: row.id, validators: validatorsOf(row), type: row.type, name: row.filenameDownload, size: row.filesize };
}

/** A file's original in storage, read with a GetObject of exactly the bytes wanted. */
export function storageSource(config: Config, row: FileRow): ByteSource {
  const client = storageFor(config, row.storage);
  const key = row.filenameDisk ?? row.id;
  const lost = () => log('error', 'inconsistency: a record without its object', { file: row.id, key, storage: row.storage });
  return {
    read: async (range) => {
      const object = await client.getObject(key, range ? { range: `bytes=${range.start}-${range.end}` } : {});
      if (!object?.body) lost();
      return object?.body ?? null;
    },
    size: async () => {
      const info = await client.headObject(key);
      if (!info) lost();
      return info?.size ?? null;
    },
    discard: async () => {},
  };
}

/** Serves a file's original bytes from storage. */
export function serveOriginal(config: Config, row: FileRow, o: ServeOptions, extra: Record<string, string> = {}): Promise<Response> {
  return answerOriginal(config, representationOf(row), storageSource(config, row), o, extra);
}
