import { AppError } from '../errors/app-error';
import { concat } from '../lib/bytes';
import { noteStorageRetry } from '../lib/log';
import { MAX_ATTEMPTS, s3Error, unavailable } from './s3-errors';
import { S3Multipart } from './s3-multipart';
import type { GetOptions, ListedObject, ListPage, ObjectInfo, ObjectRead, ObjectResponse, PutOptions } from './s3-types';
import { backoff, date, objectHeaders } from './s3-transport';
import { elements, encodeXml, text } from './xml';
import type { WrittenBody } from './written-body';

export type * from './s3-types';

/**
 * An S3 client for one storage location: objects (read, write, copy, delete, list) on top of the
 * multipart uploads (s3-multipart.ts) and the transport (s3-transport.ts: URLs, signing, timeouts,
 * retries). Keys are relative to the location's ROOT.
 */
export class S3Client extends S3Multipart {
  /** HeadBucket: resolves when the bucket answers to these credentials. */
  async headBucket(): Promise<void> {
    await this.send({ operation: 'HeadBucket', method: 'HEAD' });
  }

  async headObject(key: string): Promise<ObjectInfo | null> {
    const res = await this.send({ operation: 'HeadObject', method: 'HEAD', key, accept: [404] });
    return res.status === 404 ? null : objectInfo(res);
  }

  /**
   * GetObject, streamed. Range and conditional headers pass through (RFC 9110 semantics are the
   * store's), so 206, 304, 412 and 416 come back as answers. Null when the object does not exist.
   */
  async getObject(key: string, options: GetOptions = {}): Promise<ObjectResponse | null> {
    const headers: Record<string, string> = {};
    if (options.range) headers.range = options.range;
    if (options.ifMatch) headers['if-match'] = options.ifMatch;
    if (options.ifNoneMatch) headers['if-none-match'] = options.ifNoneMatch;
    if (options.ifModifiedSince) headers['if-modified-since'] = options.ifModifiedSince;
    if (options.ifUnmodifiedSince) headers['if-unmodified-since'] = options.ifUnmodifiedSince;
    const res = await this.send({ operation: 'GetObject', method: 'GET', key, headers, accept: [304, 404, 412, 416], rawBody: true });
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    const status = res.status as ObjectResponse['status'];
    const hasBody = status === 200 || status === 206;
    if (!hasBody) await res.body?.cancel();
    return {
      ...objectInfo(res),
      status,
      body: hasBody ? res.body : null,
      contentRange: res.headers.get('content-range') ?? undefined,
    };
  }

  /**
   * An object (or bytes [start, end) of it) read by the Worker itself: thumbnail sources, metadata,
   * checksums. Its body survives a cut after the headers: the rest is asked for again with a Range
   * from the byte reached and If-Match on the first answer's ETag (an object replaced meanwhile is
   * never spliced), up to MAX_ATTEMPTS reads in all; then 503 STORAGE_UNAVAILABLE. Null when the
   * object does not exist. Bodies streamed to a client stay native streams (getObject): a cut there
   * is the client's to resume with a Range, and a JavaScript pass-through would cost their speed.
   */
  async readObject(key: string, range?: { start: number; end: number }): Promise<ObjectRead | null> {
    const wanted = range ? { range: `bytes=${range.start}-${Math.max(range.start, range.end - 1)}` } : {};
    const first = await this.getObject(key, wanted);
    if (!first) return null;
    const start = range?.start ?? 0;
    const length = first.status === 206 ? rangeLength(first.contentRange) : first.status === 200 ? first.size : 0;
    if (!first.body || length === 0) {
      await first.body?.cancel();
      return { info: first, body: new ReadableStream({ start: (c) => c.close() }) };
    }
    const end = start + length;
    let reader = first.body.getReader();
    let at = start;
    let reads = 1;
    const where = { storage: this.location.name, operation: 'GetObject' };
    return {
      info: first,
      body: new ReadableStream<Uint8Array>({
        pull: async (controller) => {
          for (;;) {
            try {
              const { done, value } = await reader.read();
              if (!done) {
                at += value.byteLength;
                return controller.enqueue(value);
              }
              if (at >= end) return controller.close();
              throw new Error(`the body ended at byte ${at} of ${end}`);
            } catch (cause) {
              if (cause instanceof AppError) throw cause;
              if (++reads > MAX_ATTEMPTS) {
                throw unavailable(`GetObject: storage location "${this.location.name}" cut the object's body ${MAX_ATTEMPTS} times; try again later.`, where);
              }
              noteStorageRetry();
              await backoff(reads - 1);
              const rest = await this.getObject(key, { range: `bytes=${at}-${end - 1}`, ifMatch: first.etag });
              if (rest?.status !== 206 || !rest.body) {
                await rest?.body?.cancel();
                throw unavailable(`GetObject: the object changed in storage location "${this.location.name}" while it was read; try again.`, where);
              }
              reader = rest.body.getReader();
            }
          }
        },
        cancel: (reason) => reader.cancel(reason),
      }),
    };
  }

  /** readObject collected into one buffer: callers ask only for what they will hold. */
  async readBytes(key: string, range?: { start: number; end: number }): Promise<Uint8Array | null> {
    const read = await this.readObject(key, range);
    if (!read) return null;
    const chunks: Uint8Array[] = [];
    const reader = read.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
    }
    return concat(chunks);
  }

  /** PutObject. A stream body needs its exact length and is never retried. */
  async putObject(
    key: string,
    body: Uint8Array | ReadableStream<Uint8Array> | WrittenBody,
    options: PutOptions & { contentLength?: number } = {},
  ): Promise<{ etag: string }> {
    const res = await this.send({
      operation: 'PutObject',
      method: 'PUT',
      key,
      body,
      ...(options.contentLength === undefined ? {} : { contentLength: options.contentLength }),
      headers: { ...this.writeHeaders(), ...objectHeaders(options) },
    });
    return { etag: res.headers.get('etag') ?? '' };
  }

  async deleteObject(key: string): Promise<void> {
    await this.send({ operation: 'DeleteObject', method: 'DELETE', key, accept: [404] });
  }

  /** DeleteObjects for up to 1000 keys; resolves when every key is gone, else throws naming the first failure. */
  async deleteObjects(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const body =
        `<?xml version="1.0" encoding="UTF-8"?><Delete><Quiet>true</Quiet>` +
        batch.map((k) => `<Object><Key>${encodeXml(this.fullKey(k))}</Key></Object>`).join('') +
        `</Delete>`;
      const md5 = await crypto.subtle.digest('MD5', new TextEncoder().encode(body));
      const res = await this.send({
        operation: 'DeleteObjects',
        method: 'POST',
        query: { delete: '' },
        headers: { 'content-md5': base64(new Uint8Array(md5)), 'content-type': 'application/xml' },
        body,
      });
      const xml = await res.text();
      const failed = elements(xml, 'Error')[0];
      if (failed !== undefined) {
        throw new AppError(
          'STORAGE_ERROR',
          `DeleteObjects: storage location "${this.location.name}" refused to delete an object (${text(failed, 'Code') ?? 'unknown error'}).`,
          { extensions: { storage: this.location.name, s3Code: text(failed, 'Code') } },
        );
      }
    }
  }

  /** Deletes every object whose key starts with `prefix`; returns how many there were. */
  async deletePrefix(prefix: string): Promise<number> {
    let count = 0;
    let token: string | undefined;
    do {
      const page = await this.listObjects({ prefix, ...(token ? { continuationToken: token } : {}) });
      await this.deleteObjects(page.objects.map((o) => o.key));
      count += page.objects.length;
      token = page.nextContinuationToken;
    } while (token);
    return count;
  }

  /** CopyObject inside this location (same bucket). */
  async copyObject(from: string, to: string, options: PutOptions = {}): Promise<{ etag: string }> {
    const source = this.copySource(from);
    const replace = options.contentType || options.contentDisposition || options.cacheControl;
    const res = await this.send({
      operation: 'CopyObject',
      method: 'PUT',
      key: to,
      headers: {
        ...this.writeHeaders(),
        'x-amz-copy-source': source,
        ...(replace ? { 'x-amz-metadata-directive': 'REPLACE', ...objectHeaders(options) } : {}),
      },
    });
    // CopyObject can fail after a 200 status line; the body then holds <Error>.
    const xml = await res.text();
    if (elements(xml, 'Error').length > 0) throw s3Error(this.location, 'CopyObject', res, xml);
    return { etag: text(xml, 'ETag') ?? '' };
  }

  /** One page of ListObjectsV2 (keys relative to ROOT). */
  async listObjects(
    options: { prefix?: string; delimiter?: string; continuationToken?: string; maxKeys?: number; startAfter?: string } = {},
  ): Promise<ListPage> {
    const query: Record<string, string> = { 'list-type': '2', prefix: this.fullKey(options.prefix ?? '') };
    if (!this.location.root && !options.prefix) query.prefix = '';
    if (options.delimiter) query.delimiter = options.delimiter;
    if (options.continuationToken) query['continuation-token'] = options.continuationToken;
    if (options.maxKeys !== undefined) query['max-keys'] = String(options.maxKeys);
    if (options.startAfter) query['start-after'] = this.fullKey(options.startAfter);
    const res = await this.send({ operation: 'ListObjectsV2', method: 'GET', query });
    const xml = await res.text();
    const strip = (k: string) => (this.location.root ? k.slice(this.location.root.length + 1) : k);
    const prefixesXml = elements(xml, 'CommonPrefixes');
    const contentsXml = elements(xml, 'Contents');
    const truncated = text(xml, 'IsTruncated') === 'true';
    return {
      objects: contentsXml.map((c) => ({
        key: strip(text(c, 'Key') ?? ''),
        size: Number(text(c, 'Size') ?? 0),
        etag: text(c, 'ETag') ?? '',
        lastModified: date(text(c, 'LastModified')),
      })),
      commonPrefixes: prefixesXml.map((p) => strip(text(p, 'Prefix') ?? '')),
      nextContinuationToken: truncated ? text(xml, 'NextContinuationToken') : undefined,
    };
  }

  /** Every object under `prefix`, page by page. */
  async *listAll(prefix = ''): AsyncGenerator<ListedObject> {
    let token: string | undefined;
    do {
      const page = await this.listObjects({ prefix, ...(token ? { continuationToken: token } : {}) });
      yield* page.objects;
      token = page.nextContinuationToken;
    } while (token);
  }
}

function objectInfo(res: Response): ObjectInfo {
  const range = res.headers.get('content-range');
  const total = range ? Number(range.split('/')[1]) : Number.NaN;
  return {
    size: Number.isFinite(total) ? total : Number(res.headers.get('content-length') ?? 0),
    etag: res.headers.get('etag') ?? '',
    lastModified: date(res.headers.get('last-modified') ?? undefined),
    contentType: res.headers.get('content-type') ?? undefined,
  };
}
/** The length of a 206 from its `Content-Range: bytes a-b/size`. */
function rangeLength(contentRange: string | undefined): number {
  const m = /bytes (\d+)-(\d+)\//.exec(contentRange ?? '');
  return m ? Number(m[2]) - Number(m[1]) + 1 : 0;
}
function base64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}
