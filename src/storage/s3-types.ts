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
