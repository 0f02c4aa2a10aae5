import type { FileRow } from '../db/schema';
import type { FileRecord } from '../schemas/files';

export type { FileRecord };

/** API field name → schema property, for every field a client may read, filter or sort on. */
export const FILE_FIELDS = {
  id: 'id',
  storage: 'storage',
  filename_disk: 'filenameDisk',
  filename_download: 'filenameDownload',
  title: 'title',
  type: 'type',
  folder: 'folder',
  uploaded_by: 'uploadedBy',
  created_on: 'createdOn',
  modified_on: 'modifiedOn',
  uploaded_on: 'uploadedOn',
  filesize: 'filesize',
  width: 'width',
  height: 'height',
  duration: 'duration',
  embed: 'embed',
  description: 'description',
  location: 'location',
  tags: 'tags',
  metadata: 'metadata',
  focal_point_x: 'focalPointX',
  focal_point_y: 'focalPointY',
  checksum: 'checksum',
  thumbhash: 'thumbhash',
  access: 'access',
  private_hash: 'privateHash',
} as const satisfies Partial<Record<keyof FileRecord, keyof FileRow>>;

export type FileField = keyof typeof FILE_FIELDS;

export function isFileField(name: string): name is FileField {
  return Object.hasOwn(FILE_FIELDS, name);
}

export function toRecord(row: FileRow): FileRecord {
  return {
    id: row.id,
    storage: row.storage,
    filename_disk: row.filenameDisk,
    filename_download: row.filenameDownload,
    title: row.title,
    type: row.type,
    folder: row.folder,
    uploaded_by: row.uploadedBy,
    created_on: row.createdOn,
    modified_by: null,
    modified_on: row.modifiedOn,
    uploaded_on: row.uploadedOn,
    charset: null,
    filesize: String(row.filesize),
    width: row.width,
    height: row.height,
    duration: row.duration,
    embed: row.embed,
    description: row.description,
    location: row.location,
    tags: row.tags,
    metadata: row.metadata,
    focal_point_x: row.focalPointX,
    focal_point_y: row.focalPointY,
    checksum: row.checksum,
    thumbhash: row.thumbhash || null,
    access: row.access,
    private_hash: row.privateHash,
  };
}

/** `my_photo-2024.jpg` → `My Photo 2024`: Directus's readable default title. */
export function titleFromFilename(filename: string): string {
  const base = filename.replace(/\.[^./\\]{1,10}$/, '');
  const words = base
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .split(/[\s_\-.]+/)
    .filter((w) => w !== '');
  return words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(' ') || filename;
}

/** The extension of a file name, lower-cased, if it is a plausible one (letters and digits, ≤ 10). */
export function extensionOf(filename: string): string | undefined {
  const m = /\.([A-Za-z0-9]{1,10})$/.exec(filename);
  return m?.[1]?.toLowerCase();
}
