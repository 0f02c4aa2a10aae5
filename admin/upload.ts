/**
 * How files reach storage. Two Uppys, because each uploader plugin takes every file of its Uppy:
 * one over TUS through the Worker (`/files/tus`), resumable, in 8 MiB requests (well under every
 * platform's request body cap; parts are cut server-side); and, when `GET /files/s3/config` says
 * so (ADMIN_DIRECT_UPLOAD_MIN_SIZE), one that sends files of that size and more straight to the
 * bucket with AwsS3 (direct-upload.ts), so they pass neither the Worker nor the zone's body cap.
 * The panel (upload-panel.ts) adds each file to the Uppy `pick` names and shows both's events.
 */
import AwsS3 from '@uppy/aws-s3';
import Uppy from '@uppy/core';
import Tus from '@uppy/tus';
import { json, session } from './api';
import { type DirectOffer, directChunkSize, goesDirect, withBearerToken } from './direct-upload';

/** Fields the page sends with each upload; the Worker reads them from the TUS Upload-Metadata, or the direct upload's metadata. */
export type UploadMeta = { name: string; type: string; folder?: string };
export type Uploader = Uppy<UploadMeta, Record<string, never>>;

export interface Uploaders {
  all: Uploader[];
  /** The Uppy a file of `size` bytes goes through. */
  pick(size: number): Uploader;
}

let tokenAdded = false;

function overTus(): Uploader {
  return new Uppy<UploadMeta, Record<string, never>>({ autoProceed: true }).use(Tus, {
    endpoint: '/files/tus',
    chunkSize: 8 * 1024 * 1024,
    headers: () => ({ authorization: `Bearer ${session.token}` }),
    // Only the fields each file has (a listed one it lacks would be sent as "undefined"): no folder, the root.
    allowedMetaFields: true,
    removeFingerprintOnSuccess: true,
  });
}

function direct(offer: DirectOffer): Uploader {
  if (!tokenAdded) withBearerToken(() => session.token);
  tokenAdded = true;
  // Its ids must not meet the TUS Uppy's: the panel keys its rows by file id.
  return new Uppy<UploadMeta, Record<string, never>>({ id: 'direct', autoProceed: true }).use(AwsS3, {
    companionEndpoint: `${location.origin}/files`,
    shouldUseMultipart: true,
    getChunkSize: directChunkSize(offer),
  });
}

/** The TUS Uppy, and the direct one when the server offers it (a failure to ask leaves every file on TUS). */
export async function createUploaders(): Promise<Uploaders> {
  const tus = overTus();
  const offer = await json<DirectOffer>('/files/s3/config').catch(() => undefined);
  if (!offer || !goesDirect(offer.min_size, offer)) return { all: [tus], pick: () => tus };
  const bucket = direct(offer);
  return { all: [tus, bucket], pick: (size) => (goesDirect(size, offer) ? bucket : tus) };
}
