import { AwsClient } from 'aws4fetch';
import type { StorageLocation } from '../config';
import { AppError } from '../errors/app-error';
import { concat } from '../lib/bytes';
import { noteStorageRetry } from '../lib/log';
import { MAX_ATTEMPTS, s3Error, timeoutError, unreachableError } from './s3-errors';
import type { PutOptions } from './s3-types';
import { Watchdog } from './watchdog';
import { WrittenBody } from './written-body';

interface SendOptions {
  operation: string;
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  /** Object key relative to the location's root; absent for bucket-level requests. */
  key?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Uint8Array | string | ReadableStream<Uint8Array> | WrittenBody;
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
 * How a request reaches one storage location: its URL (ROOT applied, segments encoded), SigV4
 * signing with aws4fetch (service `s3`, explicit region; aws4fetch's own retries are off: they would
 * replay a consumed stream), timeouts, and retries of replayable requests (no body, or a buffered
 * one) with jittered exponential backoff on network errors, 5xx and 429/SlowDown; streamed bodies
 * never are. The operations are built on it (s3-multipart.ts, s3-client.ts).
 */
export class S3Transport {
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

  /** `x-amz-copy-source` for an object of this location. */
  protected copySource(key: string): string {
    return `/${this.location.bucket}/${this.fullKey(key).split('/').map(encodeSegment).join('/')}`;
  }

  /** Headers for requests that create objects: ACL and server-side encryption, only when configured. */
  protected writeHeaders(): Record<string, string> {
    const h: Record<string, string> = {};
    const l = this.location;
    if (l.acl) h['x-amz-acl'] = l.acl;
    if (l.serverSideEncryption) h['x-amz-server-side-encryption'] = l.serverSideEncryption;
    if (l.serverSideEncryptionKmsKeyId) h['x-amz-server-side-encryption-aws-kms-key-id'] = l.serverSideEncryptionKmsKeyId;
    return h;
  }

  protected async send(o: SendOptions): Promise<Response> {
    const streamed = o.body instanceof ReadableStream || o.body instanceof WrittenBody;
    const l = this.location;
    const url = this.url(o.key, o.query);
    // Bodyless requests must answer within CONNECTION_TIMEOUT; with a body, each stretch without
    // progress (sending, waiting, receiving) may last SOCKET_TIMEOUT.
    const firstWait = o.body === undefined ? l.connectionTimeoutMs : l.socketTimeoutMs;
    const firstVar = o.body === undefined ? 'CONNECTION_TIMEOUT' : 'SOCKET_TIMEOUT';

    for (let attempt = 1; ; attempt++) {
      const dog = new Watchdog();
      try {
        let body: BodyInit | undefined;
        if (o.body instanceof WrittenBody) {
          // Each write re-arms the timer; the last keeps it armed for the answer.
          o.body.onProgress = () => dog.arm(l.socketTimeoutMs);
          dog.arm(l.socketTimeoutMs);
          body = o.body.readable;
        } else if (o.body instanceof ReadableStream) {
          if (o.contentLength === undefined) throw new Error(`${o.operation}: a stream body needs its length`);
          body = o.body.pipeThrough(dog.tap(l.socketTimeoutMs, 'await-response')).pipeThrough(new FixedLengthStream(o.contentLength));
        } else {
          body = o.body;
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

/** Content headers an object is written with. */
export function objectHeaders(o: PutOptions): Record<string, string> {
  const h: Record<string, string> = {};
  if (o.contentType) h['content-type'] = o.contentType;
  if (o.contentDisposition) h['content-disposition'] = o.contentDisposition;
  if (o.cacheControl) h['cache-control'] = o.cacheControl;
  return h;
}
/** A timestamp from S3's XML or headers; undefined when absent or unreadable. */
export function date(value: string | undefined): Date | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}
function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
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

/** Jittered exponential backoff before a retry. */
export function backoff(attempt: number): Promise<void> {
  const cap = Math.min(2000, 100 * 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * cap));
}
