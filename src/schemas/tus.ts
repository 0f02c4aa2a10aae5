import * as z from 'zod/mini';
import { CHECKSUM_ALGORITHMS, TUS_VERSION } from '../uploads/tus-protocol';

// TUS 1.0.0 headers at /files/tus. They are described here for the document and checked by the
// protocol's parsers (src/uploads/tus-protocol.ts, src/routes/tus.ts), whose errors are TUS's own
// statuses: a zod pass over headers would repeat those parsers without replacing them.

const integer = z.string().check(z.regex(/^\d{1,16}$/));

export const tusHeaders = {
  tusResumable: { name: 'Tus-Resumable', schema: z.literal(TUS_VERSION), description: `The protocol version, ${TUS_VERSION}: anything else is a 412.` },
  uploadLength: { name: 'Upload-Length', schema: integer, description: 'The upload\'s size in bytes (or Upload-Defer-Length: 1).' },
  uploadDeferLength: { name: 'Upload-Defer-Length', schema: z.literal('1'), description: 'The size is not known yet: a later PATCH sends Upload-Length.' },
  uploadMetadata: {
    name: 'Upload-Metadata',
    schema: z.string(),
    description: 'Comma-separated `key base64value` pairs: `filename`, `filetype`, the file fields (title, folder, tags…), `id` to replace an existing file.',
  },
  uploadConcat: { name: 'Upload-Concat', schema: z.string().check(z.regex(/^(partial|final;.+)$/)), description: '`partial`, or `final;<upload URL> <upload URL> …`.' },
  uploadOffset: { name: 'Upload-Offset', schema: integer, description: 'Where this PATCH\'s bytes start: the offset HEAD answered.' },
  uploadChecksum: {
    name: 'Upload-Checksum',
    schema: z.string(),
    description: `\`<algorithm> <base64 digest>\` of this PATCH's body; algorithms: ${Object.keys(CHECKSUM_ALGORITHMS).join(', ')}. A mismatch is a 460.`,
  },
} as const;

/** What a TUS answer carries, by header. */
export const tusAnswerHeaders = {
  location: { name: 'Location', description: 'The new upload\'s URL.' },
  uploadOffset: { name: 'Upload-Offset', description: 'The bytes received so far.' },
  uploadExpires: { name: 'Upload-Expires', description: 'When an unfinished upload is dropped.' },
  fileId: { name: 'Directus-File-Id', description: 'The file record, once the upload is complete.' },
} as const;
