import * as z from 'zod/mini';
import { fileFieldsInput, fileRecord } from './files';
import { named } from './registry';

// Direct-to-bucket uploads at /files/s3 (Uppy's AwsS3 plugin, Companion's protocol). The bodies are
// checked by parseStart and parseParts in src/routes/s3-uploads.ts, whose messages say what to send.

export const directStartInput = named(
  z.object({
    filename: z.string().check(z.minLength(1)),
    type: z.optional(z.nullable(z.string())),
    metadata: z.optional(z.nullable(z.extend(z.partial(fileFieldsInput), { name: z.optional(z.string()), type: z.optional(z.string()), relativePath: z.optional(z.nullable(z.string())) }))),
  }),
  'DirectUploadStart',
  'A file to upload straight to the bucket: its name, media type and file fields (`metadata`, Uppy\'s own `name`, `type`, `relativePath` ignored).',
);

export const directStarted = named(z.object({ key: z.string(), uploadId: z.string() }), 'DirectUpload', 'The upload\'s storage key and id: name both in every later call (`?key=`).');

export const directPartUrl = named(z.object({ url: z.string(), expires: z.int() }), 'DirectPartUrl', 'A presigned URL to PUT one part to, and its lifetime in seconds.');

const part = z.object({ PartNumber: z.int(), ETag: z.string().check(z.maxLength(256)) });

export const directParts = named(z.array(z.extend(part, { Size: z.int() })), 'DirectParts', 'The parts the bucket holds.');

export const directCompleteInput = named(z.object({ parts: z.array(part).check(z.minLength(1), z.maxLength(10_000)) }), 'DirectUploadComplete', 'Every part, with the ETag its PUT answered.');

export const directCompleted = named(
  z.object({ location: z.string(), key: z.string(), data: z.partial(fileRecord) }),
  'DirectUploadCompleted',
  'The new file: its `/assets` URL, its key, and its record (the checksum follows in the background).',
);

export const directAborted = z.object({});
