import type { NewFileRow } from '../db/schema';
import { AppError } from '../errors/app-error';
import { parseJson } from '../lib/safe-keys';

/** The record fields a client may set on upload, import or PATCH (Directus's editable ones). */
export type FileFieldsPatch = Pick<
  NewFileRow,
  'title' | 'description' | 'tags' | 'filenameDownload' | 'folder' | 'location' | 'focalPointX' | 'focalPointY' | 'metadata' | 'access'
>;

const READ_ONLY = new Set([
  'id',
  'storage',
  'filename_disk',
  'type',
  'filesize',
  'width',
  'height',
  'duration',
  'checksum',
  'private_hash',
  'uploaded_by',
  'uploaded_on',
  'created_on',
  'modified_on',
  'modified_by',
  'charset',
  'embed',
]);

const invalid = (message: string) => new AppError('INVALID_PAYLOAD', message);

/**
 * The most bytes (UTF-8, of the stored text or JSON) each free-form field may hold, on every path
 * that writes it. They bound a record, and so every answer that lists records: together well under
 * 100 KiB a file, where one upload token could store megabytes a file before. Names are what a file
 * system takes (255 bytes); `metadata` fits what EXIF, IPTC and XMP usually carry.
 */
export const FIELD_MAX_BYTES = {
  title: 1024,
  filename_download: 255,
  location: 1024,
  description: 16 * 1024,
  tags: 8 * 1024,
  metadata: 64 * 1024,
} as const;

/** The largest a multipart form field may be: every field is refused past its own limit above. */
export const FORM_FIELD_MAX_BYTES = Math.max(...Object.values(FIELD_MAX_BYTES));

/** The limit of a writable field, for messages; undefined for fields without free text. */
export function fieldMaxBytes(name: string): number | undefined {
  return Object.hasOwn(FIELD_MAX_BYTES, name) ? FIELD_MAX_BYTES[name as keyof typeof FIELD_MAX_BYTES] : undefined;
}

/**
 * Characters no name may hold: C0 and C1 controls (NUL, CR, LF among them) and the bidirectional
 * formatting characters (LRM/RLM, ALM, the embeddings and overrides U+202A–202E, the isolates
 * U+2066–2069), which make `gpj.exe` read as `exe.jpg`. Right-to-left names display correctly
 * without them. Free text (`description`) may keep tabs and line breaks and bidi marks.
 */
const NAME_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
const TEXT_UNSAFE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/u;

const utf8Length = (text: string) => new TextEncoder().encode(text).byteLength;

/** How a character is named in a message: `U+202E`. */
const codePoint = (c: string) => `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * A name as given, or a 400 naming the field, the limit and the first character it may not hold
 * (see NAME_UNSAFE). Shared by file fields and folder names.
 */
export function checkedName(name: string, raw: string, maxBytes: number): string {
  const bad = NAME_UNSAFE.exec(raw)?.[0];
  if (bad !== undefined) throw invalid(`"${name}" may not contain control or bidirectional formatting characters (found ${codePoint(bad)}).`);
  assertFits(name, raw, maxBytes);
  return raw;
}

function assertFits(name: string, text: string, maxBytes: number): void {
  // A UTF-8 character is at most 4 bytes (and a UTF-16 unit at most 3): most texts need no encoding.
  if (text.length * 3 > maxBytes && utf8Length(text) > maxBytes) throw invalid(`"${name}" may be at most ${maxBytes} bytes (UTF-8).`);
}

/**
 * A name that did not come from a field (a file part's name, TUS `filename`, an imported URL's
 * name): the characters NAME_UNSAFE refuses are dropped and it is cut to `maxBytes`, so that no
 * stored name carries them.
 */
export function cleanName(raw: string, maxBytes: number = FIELD_MAX_BYTES.filename_download): string {
  const clean = raw.replace(new RegExp(NAME_UNSAFE.source, 'gu'), '').trim();
  const bytes = new TextEncoder().encode(clean);
  if (bytes.byteLength <= maxBytes) return clean;
  // Cut in bytes once; a character the cut splits decodes as U+FFFD and is dropped.
  return new TextDecoder().decode(bytes.subarray(0, maxBytes)).replace(/\uFFFD+$/, '');
}

/**
 * Validates writable fields. `input` values are JSON values (PATCH, import) or strings (multipart
 * form fields, where `tags` may be a JSON array or a comma-separated list). `storage` is accepted
 * only where a new object is written (`allowStorage`). Unknown or read-only fields are refused.
 */
export function parseFileFields(
  input: Record<string, unknown>,
  options: { allowStorage: boolean; fromForm?: boolean },
): { fields: Partial<FileFieldsPatch>; storage?: string } {
  const fields: Partial<FileFieldsPatch> = {};
  let storage: string | undefined;
  for (const [name, raw] of Object.entries(input)) {
    switch (name) {
      case 'title':
      case 'location': {
        const value = nullableString(name, raw);
        fields[name] = value === null ? null : checkedName(name, value, FIELD_MAX_BYTES[name]);
        break;
      }
      case 'description': {
        const value = nullableString(name, raw);
        const bad = value === null ? undefined : TEXT_UNSAFE.exec(value)?.[0];
        if (bad !== undefined) throw invalid(`"description" may not contain control characters other than tab and line breaks (found ${codePoint(bad)}).`);
        if (value !== null) assertFits(name, value, FIELD_MAX_BYTES.description);
        fields.description = value;
        break;
      }
      case 'folder': {
        const value = nullableString(name, raw);
        if (value !== null && value.length > 64) throw invalid('"folder" must be a folder id or null.');
        fields.folder = value;
        break;
      }
      case 'filename_download': {
        const value = nullableString(name, raw);
        if (!value) throw invalid('"filename_download" must be a non-empty string.');
        fields.filenameDownload = checkedName(name, value, FIELD_MAX_BYTES.filename_download);
        break;
      }
      case 'tags':
        fields.tags = tags(raw, options.fromForm ?? false);
        break;
      case 'focal_point_x':
      case 'focal_point_y': {
        const value = raw === null || raw === '' ? null : Number(raw);
        if (value !== null && !Number.isInteger(value)) throw invalid(`"${name}" must be a whole number of pixels or null.`);
        fields[name === 'focal_point_x' ? 'focalPointX' : 'focalPointY'] = value;
        break;
      }
      case 'metadata': {
        const value = options.fromForm && typeof raw === 'string' ? json(name, raw) : raw;
        if (value !== null && (typeof value !== 'object' || Array.isArray(value))) throw invalid('"metadata" must be an object or null.');
        if (value !== null) assertFits(name, JSON.stringify(value), FIELD_MAX_BYTES.metadata);
        fields.metadata = value as Record<string, unknown> | null;
        break;
      }
      case 'access':
        if (raw !== 'public' && raw !== 'private') throw invalid('"access" must be "public" or "private".');
        fields.access = raw;
        break;
      case 'storage':
        if (!options.allowStorage) throw invalid('"storage" cannot be changed; upload the file again to move it.');
        if (typeof raw !== 'string' || raw === '') throw invalid('"storage" must be the name of a storage location.');
        storage = raw;
        break;
      default:
        throw invalid(READ_ONLY.has(name) ? `Field "${name}" is read-only.` : `Unknown field "${name}".`);
    }
  }
  return storage === undefined ? { fields } : { fields, storage };
}

function nullableString(name: string, raw: unknown): string | null {
  if (raw === null) return null;
  if (typeof raw !== 'string') throw invalid(`"${name}" must be a string.`);
  return raw;
}

function json(name: string, raw: string): unknown {
  return parseJson(raw, 'INVALID_PAYLOAD', `"${name}"`, `"${name}" must be valid JSON.`);
}

function tags(raw: unknown, fromForm: boolean): string[] | null {
  if (raw === null) return null;
  let value: unknown = raw;
  if (fromForm && typeof raw === 'string') value = raw.trim().startsWith('[') ? json('tags', raw) : raw.split(',').map((t) => t.trim()).filter((t) => t !== '');
  if (!Array.isArray(value) || !value.every((t) => typeof t === 'string')) throw invalid('"tags" must be a list of strings.');
  for (const tag of value) checkedName('tags', tag, FIELD_MAX_BYTES.tags);
  assertFits('tags', JSON.stringify(value), FIELD_MAX_BYTES.tags);
  return value;
}

/**
 * A value read from the bytes (EXIF, IPTC, XMP) when it would pass as field `name`; undefined when a
 * client could not have set it (too long, a control character): the upload goes on without it.
 */
export function scrapedIfValid<T>(name: 'title' | 'description' | 'location' | 'tags' | 'metadata', value: T | undefined): T | undefined {
  if (value === undefined) return undefined;
  try {
    parseFileFields({ [name]: value }, { allowStorage: false });
    return value;
  } catch {
    return undefined;
  }
}
