import { AppError } from '../errors/app-error';
import { concat, hex } from '../lib/bytes';
import { s3Error } from './s3-errors';
import type { ExpectedObject, ObjectInfo, PendingUpload, PutOptions, UploadedPart } from './s3-types';
import { date, objectHeaders, S3Transport } from './s3-transport';
import { elements, encodeXml, text } from './xml';
import { WrittenBody } from './written-body';

/** Store clocks and ours may differ by this much when a completed object's age is compared. */
const CLOCK_SKEW_MS = 60_000;

/**
 * S3's multipart uploads for one location: create, parts (streamed, buffered or copied inside the
 * store), a completion that is safe to repeat, abort, and the listings that find uploads and parts.
 */
export abstract class S3Multipart extends S3Transport {
  abstract headObject(key: string): Promise<ObjectInfo | null>;

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
  async uploadPart(key: string, uploadId: string, partNumber: number, body: Uint8Array | ReadableStream<Uint8Array> | WrittenBody, length?: number): Promise<UploadedPart> {
    const size = body instanceof ReadableStream ? length : body instanceof WrittenBody ? body.length : body.byteLength;
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
