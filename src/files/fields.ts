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
      case 'description':
      case 'location':
      case 'folder':
        fields[name] = nullableString(name, raw);
        break;
      case 'filename_download': {
        const value = nullableString(name, raw);
        if (!value) throw invalid('"filename_download" must be a non-empty string.');
        fields.filenameDownload = value;
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
  if (raw.length > 10_000) throw invalid(`"${name}" must be at most 10000 characters.`);
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
  return value;
}
