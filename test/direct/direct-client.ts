import { env } from 'cloudflare:test';
import { expect } from 'vitest';
import { app } from '../../src/app';
import { ADMIN_TOKEN } from '../helpers';

/**
 * A client of the direct-to-bucket routes as Uppy's AwsS3 plugin (endpoint mode) calls them: JSON
 * to the Worker with a bearer token, part bytes PUT to the presigned URLs it answers.
 */
export class DirectClient {
  constructor(
    readonly token: string | null = ADMIN_TOKEN,
    readonly vars: Record<string, unknown> = env,
  ) {}

  async call(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.token !== null) headers.set('authorization', `Bearer ${this.token}`);
    if (init.body !== undefined) headers.set('content-type', 'application/json');
    return app.request(`http://assets.test/files/s3${path}`, { ...init, headers }, this.vars);
  }

  async start(filename: string, type: string, metadata: Record<string, unknown> = {}): Promise<{ key: string; uploadId: string }> {
    const res = await this.call('/multipart', { method: 'POST', body: JSON.stringify({ filename, type, metadata }) });
    if (res.status !== 200) throw new Error(`start: ${res.status} ${await res.text()}`);
    return res.json();
  }

  sign(upload: { key: string; uploadId: string }, partNumber: number | string): Promise<Response> {
    return this.call(`/multipart/${encodeURIComponent(upload.uploadId)}/${partNumber}?key=${encodeURIComponent(upload.key)}`);
  }

  list(upload: { key: string; uploadId: string }): Promise<Response> {
    return this.call(`/multipart/${encodeURIComponent(upload.uploadId)}?key=${encodeURIComponent(upload.key)}`);
  }

  complete(upload: { key: string; uploadId: string }, parts: { PartNumber: number; ETag: string }[]): Promise<Response> {
    return this.call(`/multipart/${encodeURIComponent(upload.uploadId)}/complete?key=${encodeURIComponent(upload.key)}`, { method: 'POST', body: JSON.stringify({ parts }) });
  }

  abort(upload: { key: string; uploadId: string }): Promise<Response> {
    return this.call(`/multipart/${encodeURIComponent(upload.uploadId)}?key=${encodeURIComponent(upload.key)}`, { method: 'DELETE' });
  }

  /** Signs part `partNumber` and PUTs `body` to the URL, as a browser would: its ETag. */
  async putPart(upload: { key: string; uploadId: string }, partNumber: number, body: Uint8Array): Promise<{ PartNumber: number; ETag: string }> {
    const signed = await this.sign(upload, partNumber);
    if (signed.status !== 200) throw new Error(`sign: ${signed.status} ${await signed.text()}`);
    const { url } = (await signed.json()) as { url: string };
    const put = await fetch(url, { method: 'PUT', body });
    await put.arrayBuffer();
    const etag = put.headers.get('etag');
    if (put.status !== 200 || !etag) throw new Error(`PUT part ${partNumber}: ${put.status}`);
    return { PartNumber: partNumber, ETag: etag };
  }

  /** A whole upload in parts of `partSize`, `inFlight` at a time: the completion's answer. */
  async upload(filename: string, type: string, data: Uint8Array, options: { partSize?: number; inFlight?: number; metadata?: Record<string, unknown> } = {}): Promise<Response> {
    const partSize = options.partSize ?? 5 * 1024 * 1024;
    const upload = await this.start(filename, type, options.metadata);
    const numbers = Array.from({ length: Math.max(1, Math.ceil(data.byteLength / partSize)) }, (_, i) => i + 1);
    const parts: { PartNumber: number; ETag: string }[] = [];
    const queue = [...numbers];
    const worker = async () => {
      for (let n = queue.shift(); n !== undefined; n = queue.shift()) parts.push(await this.putPart(upload, n, data.subarray((n - 1) * partSize, n * partSize)));
    };
    await Promise.all(Array.from({ length: options.inFlight ?? 1 }, worker));
    return this.complete(upload, parts.sort((a, b) => a.PartNumber - b.PartNumber));
  }
}

export interface Completion {
  location: string;
  key: string;
  data: Record<string, unknown> & { id: string; checksum: string | null; filesize: string; type: string; filename_disk: string };
}

/** The record once its background checksum has landed (or the last one read, after ~10 s). */
export async function withChecksum(id: string, vars: Record<string, unknown> = env): Promise<Completion['data']> {
  let data: Completion['data'] | undefined;
  for (let i = 0; i < 200; i++) {
    const res = await app.request(`http://assets.test/files/${id}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }, vars);
    data = ((await res.json()) as { data: Completion['data'] }).data;
    if (data.checksum) return data;
    await new Promise((r) => setTimeout(r, 50));
  }
  return data as Completion['data'];
}

/** What ListParts answers for an upload that is gone: NoSuchUpload (S3, s3rver's shim), NoSuchKey (Ceph RGW). */
export const UPLOAD_GONE = expect.stringMatching(/^NoSuch(Upload|Key)$/);
