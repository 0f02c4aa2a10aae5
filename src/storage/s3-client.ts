import { AwsClient } from 'aws4fetch';
import type { StorageLocation } from '../config';
import { AppError } from '../errors/app-error';
import { concat, hex } from '../lib/bytes';
import { noteStorageRetry } from '../lib/log';
import { MAX_ATTEMPTS, s3Error, timeoutError, unavailable, unreachableError } from './s3-errors';
import { Watchdog } from './watchdog';
import { elements, encodeXml, text } from './xml';

/** What S3 says about an object (HeadObject, GetObject). */
export interface ObjectInfo {
  size: number;
  etag: string;
  lastModified: Date | undefined;
  contentType: string | undefined;
}

/** A GetObject answer: 200/206 with a body, or 304/412/416 without one (conditionals, Range). */
export interface ObjectResponse extends ObjectInfo {
  status: 200 | 206 | 304 | 412 | 416;
  body: ReadableStream<Uint8Array> | null;
  /** The `Content-Range` of a 206 (or a 416's `bytes *\/size`). */
  contentRange: string | undefined;
}

export interface GetOptions {
  range?: string;
  ifMatch?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  ifUnmodifiedSince?: string;
}

export interface PutOptions {
  contentType?: string;
  contentDisposition?: string;
  cacheControl?: string;
}

export interface ListedObject {
  key: string;
  size: number;
  etag: string;
  lastModified: Date | undefined;
}

export interface ListPage {
  objects: ListedObject[];
  commonPrefixes: string[];
  nextContinuationToken: string | undefined;
}

export interface UploadedPart {
  partNumber: number;
  etag: string;
  size?: number;
}

/** A multipart upload in progress, as ListMultipartUploads reports it. */
export interface PendingUpload {
  key: string;
  uploadId: string;
  initiated: Date | undefined;
}

/** What a completion should have produced: checked when its outcome is unknown (see completeMultipartUpload). */
export interface ExpectedObject {
  size: number;
  /** When the multipart upload was created (ms since the epoch). */
  startedAt: number;
}

/** An object being read: what S3 said about it and a body that survives cuts (see `readObject`). */
export interface ObjectRead {
  info: ObjectInfo;
  body: ReadableStream<Uint8Array>;
}

/** Store clocks and ours may differ by this much when a completed object's age is compared. */
const CLOCK_SKEW_MS = 60_000;

interface SendOptions {
  operation: string;
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  /** Object key relative to the location's root; absent for bucket-level requests. */
  key?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Uint8Array | string | ReadableStream<Uint8Array>;
  /** Required with a stream body: S3 needs the length up front. */
  contentLength?: number;
  /** Statuses that are answers rather than errors for this operation. */
  accept?: number[];
  /**
   * Hand the response body over untouched. Large object bodies must stay a native stream: a
   * JavaScript pass-through that watches for stalls costs about 90% of the throughput (measured by
   * `npm run bench`), so for them the timeouts cover the wait for the response headers only.
   */
  rawBody?: boolean;
}

const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);
const ERROR_BODY_LIMIT = 64 * 1024;

/**
 * An S3 client for one storage location, signing with aws4fetch (SigV4, service `s3`, explicit
 * region). Keys are relative to the location's ROOT. aws4fetch's own retries are off: they would
 * replay a consumed stream. Replayable requests (no body, or a buffered one) are retried here with
 * jittered exponential backoff on network errors, 5xx and 429/SlowDown; streamed bodies never are.
 */
export class S3Client {
  private readonly signer: AwsClient | undefined;

  constructor(readonly location: StorageLocation) {
    const creds = location.credentials;
    this.signer = creds
      ? new AwsClient({ ...creds, service: 's3', region: location.region, retries: 0 })
      : undefined;
  }

  /** The key inside the bucket: ROOT applied. */
  fullKey(key: string): string {
    return this.location.root ? `${this.location.root}/${key}` : key;
  }

  /**
   * The request URL. Each key segment is percent-encoded (RFC 3986 unreserved characters only), so
   * `+`, `%`, `#`, `?`, spaces and unicode survive aws4fetch's decode-and-re-encode of the path.
   */
  url(key: string | undefined, query: Record<string, string> = {}): URL {
    const { endpoint, bucket, pathStyle } = this.location;
    const path = key === undefined ? '' : this.fullKey(key).split('/').map(encodeSegment).join('/');
    const url = pathStyle
      ? new URL(`${endpoint.protocol}//${endpoint.host}/${bucket}/${path}`)
      : new URL(`${endpoint.protocol}//${bucket}.${endpoint.host}/${path}`);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    return url;
  }

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
    body: Uint8Array | ReadableStream<Uint8Array>,
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

  async createMultipartUpload(key: string, options: PutOptions = {}): Promise<string> {
    const res = await this.send({
      operation: 'CreateMultipartUpload',
      method: 'POST',
      key,
      query: { uploads: '' },
      headers: { ...this.writeHeaders(), ...objectHeaders(options) },
      body: '',
    });
    const uploadId = text(await res.text(), 'UploadId');
    if (!uploadId) {
      throw new AppError('STORAGE_ERROR', `CreateMultipartUpload: storage location "${this.location.name}" returned no UploadId.`);
    }
    return uploadId;
  }

  /**
   * UploadPart. A buffer is retried with the same bytes after a failed attempt; a stream (with its
   * exact length) goes to storage as it arrives and is never retried: its caller owns the resend.
   */
  async uploadPart(key: string, uploadId: string, partNumber: number, body: Uint8Array | ReadableStream<Uint8Array>, length?: number): Promise<UploadedPart> {
    const size = body instanceof ReadableStream ? length : body.byteLength;
    const res = await this.send({
      operation: 'UploadPart',
      method: 'PUT',
      key,
      query: { partNumber: String(partNumber), uploadId },
      body,
      ...(size === undefined ? {} : { contentLength: size }),
    });
    await res.body?.cancel();
    const etag = res.headers.get('etag');
    if (!etag) throw new AppError('STORAGE_ERROR', `UploadPart: storage location "${this.location.name}" returned no ETag.`);
    return { partNumber, etag, ...(size === undefined ? {} : { size }) };
  }

  /**
   * UploadPartCopy: bytes [start, end) of another object of this location become a part, without
   * passing through the Worker. Undefined when the store does not do it (s3rver answers such a PUT
   * as a plain, empty UploadPart, so an answer without a CopyPartResult counts as not done).
   */
  async uploadPartCopy(key: string, uploadId: string, partNumber: number, source: { key: string; start: number; end: number }): Promise<UploadedPart | undefined> {
    let xml: string;
    try {
      const res = await this.send({
        operation: 'UploadPartCopy',
        method: 'PUT',
        key,
        query: { partNumber: String(partNumber), uploadId },
        headers: { 'x-amz-copy-source': this.copySource(source.key), 'x-amz-copy-source-range': `bytes=${source.start}-${source.end - 1}` },
      });
      xml = await res.text();
    } catch (error) {
      if (error instanceof AppError && ['NotImplemented', 'InvalidRequest', 'InvalidArgument'].includes(String(error.extensions.s3Code))) return undefined;
      throw error;
    }
    if (elements(xml, 'Error').length > 0) throw new AppError('STORAGE_ERROR', `UploadPartCopy: storage location "${this.location.name}" failed to copy a part.`);
    const etag = text(xml, 'ETag');
    if (!etag || elements(xml, 'CopyPartResult').length === 0) return undefined;
    return { partNumber, etag, size: source.end - source.start };
  }

  /**
   * CompleteMultipartUpload, safe to repeat after an unknown outcome. Some stores (Ceph RGW) return an
   * empty ETag in the result body and S3 can report a failure inside a 200, so the body is checked
   * for <Error> and the ETag is not relied upon.
   *
   * When the answer to a completion is lost (a cut, a timeout) the request is sent again; a store
   * that finished the first one answers NoSuchUpload (S3, Ceph) or an error of its own (s3rver: 500).
   * With `expected`, any failure is checked against the object now at the key: it is ours when its
   * ETag is the multipart ETag of these parts (the MD5 of their MD5s, `-N`), or, for stores that
   * compute ETags otherwise (s3rver, SSE-KMS), when its size is the expected size and it was written
   * after the upload began. Keys of new bytes are never reused, so nothing older can pass for it.
   * Otherwise the failure stands.
   */
  async completeMultipartUpload(key: string, uploadId: string, parts: UploadedPart[], expected?: ExpectedObject): Promise<void> {
    try {
      await this.sendCompletion(key, uploadId, parts);
    } catch (error) {
      if (!expected || !(await this.isCompletedObject(key, parts, expected).catch(() => false))) throw error;
    }
  }

  private async isCompletedObject(key: string, parts: UploadedPart[], expected: ExpectedObject): Promise<boolean> {
    const object = await this.headObject(key);
    if (!object) return false;
    const etag = object.etag.replace(/"/g, '');
    if (etag === (await multipartEtag(parts))) return true;
    const written = object.lastModified?.getTime() ?? 0;
    return object.size === expected.size && written >= expected.startedAt - CLOCK_SKEW_MS;
  }

  private async sendCompletion(key: string, uploadId: string, parts: UploadedPart[]): Promise<void> {
    const body =
      '<CompleteMultipartUpload>' +
      parts.map((p) => `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${encodeXml(p.etag)}</ETag></Part>`).join('') +
      '</CompleteMultipartUpload>';
    const res = await this.send({
      operation: 'CompleteMultipartUpload',
      method: 'POST',
      key,
      query: { uploadId },
      headers: { 'content-type': 'application/xml' },
      body,
    });
    const xml = await res.text();
    if (elements(xml, 'Error').length > 0) throw s3Error(this.location, 'CompleteMultipartUpload', res, xml);
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    await this.send({ operation: 'AbortMultipartUpload', method: 'DELETE', key, query: { uploadId }, accept: [404] });
  }

  /**
   * One page of ListMultipartUploads under the location's root (keys relative to it). Stores without
   * it (s3rver) answer STORAGE_ERROR with s3Code NotImplemented.
   */
  async listMultipartUploads(
    marker: { keyMarker?: string; uploadIdMarker?: string } = {},
  ): Promise<{ uploads: PendingUpload[]; next: { keyMarker: string; uploadIdMarker: string } | undefined }> {
    const query: Record<string, string> = { uploads: '', prefix: this.fullKey('') };
    if (!this.location.root) query.prefix = '';
    if (marker.keyMarker) query['key-marker'] = this.fullKey(marker.keyMarker);
    if (marker.uploadIdMarker) query['upload-id-marker'] = marker.uploadIdMarker;
    const res = await this.send({ operation: 'ListMultipartUploads', method: 'GET', query });
    const xml = await res.text();
    const strip = (k: string) => (this.location.root ? k.slice(this.location.root.length + 1) : k);
    const uploads = elements(xml, 'Upload').map((u) => ({
      key: strip(text(u, 'Key') ?? ''),
      uploadId: text(u, 'UploadId') ?? '',
      initiated: date(text(u, 'Initiated')),
    }));
    const keyMarker = text(xml, 'NextKeyMarker');
    const uploadIdMarker = text(xml, 'NextUploadIdMarker');
    const truncated = text(xml, 'IsTruncated') === 'true' && keyMarker !== undefined;
    return { uploads, next: truncated ? { keyMarker: strip(keyMarker), uploadIdMarker: uploadIdMarker ?? '' } : undefined };
  }

  /** ListParts, every page. */
  async listParts(key: string, uploadId: string): Promise<UploadedPart[]> {
    const parts: UploadedPart[] = [];
    let marker: string | undefined;
    do {
      const query: Record<string, string> = { uploadId };
      if (marker) query['part-number-marker'] = marker;
      const res = await this.send({ operation: 'ListParts', method: 'GET', key, query });
      const xml = await res.text();
      for (const p of elements(xml, 'Part')) {
        parts.push({ partNumber: Number(text(p, 'PartNumber')), etag: text(p, 'ETag') ?? '', size: Number(text(p, 'Size')) });
      }
      marker = text(xml, 'IsTruncated') === 'true' ? text(xml, 'NextPartNumberMarker') : undefined;
    } while (marker);
    return parts;
  }

  /** `x-amz-copy-source` for an object of this location. */
  private copySource(key: string): string {
    return `/${this.location.bucket}/${this.fullKey(key).split('/').map(encodeSegment).join('/')}`;
  }

  /** Headers for requests that create objects: ACL and server-side encryption, only when configured. */
  private writeHeaders(): Record<string, string> {
    const h: Record<string, string> = {};
    const l = this.location;
    if (l.acl) h['x-amz-acl'] = l.acl;
    if (l.serverSideEncryption) h['x-amz-server-side-encryption'] = l.serverSideEncryption;
    if (l.serverSideEncryptionKmsKeyId) h['x-amz-server-side-encryption-aws-kms-key-id'] = l.serverSideEncryptionKmsKeyId;
    return h;
  }

  private async send(o: SendOptions): Promise<Response> {
    const streamed = o.body instanceof ReadableStream;
    const l = this.location;
    const url = this.url(o.key, o.query);
    // Bodyless requests must answer within CONNECTION_TIMEOUT; with a body, each stretch without
    // progress (sending, waiting, receiving) may last SOCKET_TIMEOUT.
    const firstWait = o.body === undefined ? l.connectionTimeoutMs : l.socketTimeoutMs;
    const firstVar = o.body === undefined ? 'CONNECTION_TIMEOUT' : 'SOCKET_TIMEOUT';

    for (let attempt = 1; ; attempt++) {
      const dog = new Watchdog();
      try {
        let body: BodyInit | undefined = o.body;
        if (o.body instanceof ReadableStream) {
          if (o.contentLength === undefined) throw new Error(`${o.operation}: a stream body needs its length`);
          body = o.body.pipeThrough(dog.tap(l.socketTimeoutMs, 'await-response')).pipeThrough(new FixedLengthStream(o.contentLength));
        } else {
          dog.arm(firstWait);
        }
        const init: RequestInit = { method: o.method, headers: o.headers ?? {}, signal: dog.signal };
        if (body !== undefined) init.body = body;
        const request = this.signer ? await this.signer.sign(url.toString(), init) : new Request(url, init);
        const res = await fetch(request);

        if (res.ok || o.accept?.includes(res.status)) {
          if (o.rawBody || !res.body) {
            dog.stop();
            return res;
          }
          // Answers other than object bodies are small (XML, empty): read them while the watchdog
          // still runs, so no timer or half-read body outlives the call.
          const body = await res.arrayBuffer();
          dog.stop();
          return new Response(body, res);
        }
        const errorBody = await boundedText(res);
        if (!streamed && attempt < MAX_ATTEMPTS && (RETRY_STATUSES.has(res.status) || errorBody.includes('<Code>SlowDown</Code>'))) {
          noteStorageRetry();
          await backoff(attempt);
          continue;
        }
        throw s3Error(l, o.operation, res, errorBody);
      } catch (error) {
        if (error instanceof AppError) throw error;
        if (dog.fired !== undefined) throw timeoutError(l, o.operation, dog.fired, dog.fired === firstWait ? firstVar : 'SOCKET_TIMEOUT');
        if (!streamed && attempt < MAX_ATTEMPTS) {
          noteStorageRetry();
          await backoff(attempt);
          continue;
        }
        throw unreachableError(l, o.operation, error);
      } finally {
        dog.stop();
      }
    }
  }
}

function objectHeaders(o: PutOptions): Record<string, string> {
  const h: Record<string, string> = {};
  if (o.contentType) h['content-type'] = o.contentType;
  if (o.contentDisposition) h['content-disposition'] = o.contentDisposition;
  if (o.cacheControl) h['cache-control'] = o.cacheControl;
  return h;
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

/** S3's ETag of a multipart object: the MD5 of its parts' binary MD5s, then `-<parts>`. */
async function multipartEtag(parts: UploadedPart[]): Promise<string | undefined> {
  const digests: Uint8Array[] = [];
  for (const p of parts) {
    const h = p.etag.replace(/"/g, '');
    if (!/^[0-9a-f]{32}$/i.test(h)) return undefined;
    digests.push(Uint8Array.from(h.match(/../g) ?? [], (b) => Number.parseInt(b, 16)));
  }
  return `${hex(await crypto.subtle.digest('MD5', concat(digests)))}-${parts.length}`;
}

function date(value: string | undefined): Date | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function base64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

async function boundedText(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < ERROR_BODY_LIMIT) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  await reader.cancel().catch(() => {});
  return new TextDecoder().decode(concat(chunks));
}

function backoff(attempt: number): Promise<void> {
  const cap = Math.min(2000, 100 * 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * cap));
}
