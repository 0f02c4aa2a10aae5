import type { Config } from '../config';
import { storageFor } from '../storage';

/** What the file library page needs to send its large files straight to the bucket. */
export interface DirectOffer {
  /** The storage location the page uploads to (the default one). */
  storage: string;
  /** Files of at least this many bytes go direct (ADMIN_DIRECT_UPLOAD_MIN_SIZE); smaller ones over TUS. */
  minSize: number;
  /** The location's part size P (TUS__CHUNK_SIZE): every part but the last of one size, as R2 wants. */
  partSize: number;
  /** Where the presigned part URLs point: the only origin besides its own the page may connect to. */
  bucketOrigin: string;
}

/**
 * Whether the page sends large files straight to the bucket, and how; undefined (every file over
 * TUS) when ADMIN_DIRECT_UPLOAD_MIN_SIZE is unset or the default location has no KEY and SECRET
 * to presign with. The same answer feeds `GET /files/s3/config` and the page's connect-src.
 */
export function directOffer(config: Config): DirectOffer | undefined {
  const minSize = config.admin.directUploadMinSize;
  const location = config.defaultLocation;
  if (minSize === undefined || !location.credentials) return undefined;
  // The origin of a part URL, path-style or virtual-hosted as the location addresses its bucket.
  const bucketOrigin = storageFor(config).url(undefined).origin;
  return { storage: location.name, minSize, partSize: location.tusChunkSize, bucketOrigin };
}
