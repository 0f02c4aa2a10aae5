/**
 * How files reach storage: Uppy over TUS through the Worker (`/files/tus`), resumable, in 8 MiB
 * requests (well under every platform's request body cap; parts are cut server-side). The panel
 * (upload-panel.ts) only adds files and shows Uppy's events, so another uploader (direct to the
 * bucket, say) plugs in here by using its plugin instead of Tus.
 */
import Uppy from '@uppy/core';
import Tus from '@uppy/tus';
import { session } from './api';

/** Fields the page sends with each upload; the Worker reads them from the TUS Upload-Metadata. */
export type UploadMeta = { name: string; type: string; folder?: string };

export function createUploader(): Uppy<UploadMeta, Record<string, never>> {
  return new Uppy<UploadMeta, Record<string, never>>({ autoProceed: true }).use(Tus, {
    endpoint: '/files/tus',
    chunkSize: 8 * 1024 * 1024,
    headers: () => ({ authorization: `Bearer ${session.token}` }),
    // Only the fields each file has (a listed one it lacks would be sent as "undefined"): no folder, the root.
    allowedMetaFields: true,
    removeFingerprintOnSuccess: true,
  });
}
