import * as z from 'zod/mini';
import { FIELD_MAX_BYTES } from '../files/fields';
import { aggregateRow, batchUpdateOf, itemOf, listOf } from './common';
import { folderRecord } from './folders';
import { named } from './registry';

const nullableString = z.nullable(z.string());

/** A file as the Directus REST API returns it (`directus_files`; `filesize` is a string there). */
export const fileRecord = named(
  z.object({
    id: z.string(),
    storage: z.string(),
    filename_disk: nullableString,
    filename_download: z.string(),
    title: nullableString,
    type: nullableString,
    folder: nullableString,
    uploaded_by: nullableString,
    created_on: z.string(),
    modified_by: z.null(),
    modified_on: z.string(),
    uploaded_on: nullableString,
    charset: z.null(),
    filesize: z.string(),
    width: z.nullable(z.int()),
    height: z.nullable(z.int()),
    duration: z.nullable(z.number()),
    /** The video id of an embed (type `embed/youtube` or `embed/vimeo`), else null. */
    embed: nullableString,
    description: nullableString,
    location: nullableString,
    tags: z.nullable(z.array(z.string())),
    metadata: z.nullable(z.record(z.string(), z.unknown())),
    focal_point_x: z.nullable(z.int()),
    focal_point_y: z.nullable(z.int()),
    checksum: nullableString,
    /** A ThumbHash (base64) of the image, to show while it loads; null until made, and for other files. */
    thumbhash: nullableString,
    access: z.enum(['public', 'private']),
    /** The capability for `/assets/<private_hash>`; rotate it to revoke shared links. */
    private_hash: nullableString,
  }),
  'File',
  'A file record. Fields the token\'s scope may not see (`private_hash` below admin) are left out.',
);

/**
 * A file as a read or a list answers it: the fields `fields` names (all the scope may see when
 * not given); `folder.*` in `fields` expands `folder` into the folder's record.
 */
export const fileItem = named(
  z.partial(z.extend(fileRecord, { folder: z.union([z.string(), z.partial(folderRecord), z.null()]) })),
  'FileItem',
  'A file record with the fields asked for (`fields`), `folder` expanded when `fields` names `folder.*`.',
);

/**
 * The fields a client writes (POST /files form fields before the file, PATCH, import's `data`,
 * direct uploads' `metadata`). The document is made from this; the values are checked by
 * parseFileFields (src/files/fields.ts), which also reads them from multipart form strings (tags as
 * a JSON array or a comma list, numbers from text) and says per field what to fix: converting that
 * to zod would only move its messages here.
 */
export const fileFieldsInput = named(
  z.partial(
    z.strictObject({
      title: z.nullable(z.string().check(z.describe(`At most ${FIELD_MAX_BYTES.title} bytes.`))),
      description: z.nullable(z.string().check(z.describe(`At most ${FIELD_MAX_BYTES.description} bytes; no control characters but tab and line breaks.`))),
      location: z.nullable(z.string()),
      folder: z.nullable(z.string().check(z.describe('A folder id.'))),
      filename_download: z.string().check(z.minLength(1)),
      tags: z.nullable(z.array(z.string())),
      focal_point_x: z.nullable(z.int()),
      focal_point_y: z.nullable(z.int()),
      metadata: z.nullable(z.record(z.string(), z.unknown())),
      access: z.enum(['public', 'private']),
      storage: z.string().check(z.describe('The storage location of a new file (uploads and imports only).')),
    }),
  ),
  'FileFields',
  'Writable file fields. `storage` only where new bytes are written (POST /files, import, direct uploads).',
);

/** PATCH /files/:id with JSON: the fields, and `filename_disk` to rename the stored object. */
export const filePatchInput = named(
  z.extend(fileFieldsInput, { filename_disk: z.optional(z.string().check(z.describe('A new storage key: the object is renamed.'))) }),
  'FilePatch',
  'A change of fields (JSON). `storage` cannot be changed; `filename_disk` renames the stored object.',
);

/** POST /files/:id multipart: metadata fields, then the file (one for PATCH, one or more for POST). */
export const fileUploadInput = named(
  z.looseObject({ file: z.string().check(z.describe('The bytes (binary); fields before a file apply to it.')) }),
  'FileUpload',
  'multipart/form-data: file fields (`FileFields`, as text: `tags` as a JSON array or a comma list) followed by a `file` part.',
);

/** POST /files/import. */
export const importInput = named(z.object({ url: z.string(), data: z.optional(fileFieldsInput) }), 'FileImport', 'A URL to import, and the new file\'s fields.');

export const fileAnswer = itemOf(fileRecord);
export const filesAnswer = z.object({ data: z.union([fileRecord, z.array(fileRecord)]) });
export const fileItemAnswer = itemOf(fileItem);
export const fileListAnswer = listOf(z.union([fileItem, aggregateRow]));
export const filesBatchInput = batchUpdateOf(fileFieldsInput);
export const fileRecordsAnswer = listOf(fileRecord);
export const signedUrlAnswer = itemOf(z.object({ url: z.string() }));

export type FileRecord = z.output<typeof fileRecord>;
