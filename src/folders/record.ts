import type { FolderRow } from '../db/schema';
import type { FolderRecord } from '../schemas/folders';

export type { FolderRecord };

const FOLDER_FIELDS = { id: true, name: true, parent: true } as const;

export type FolderField = keyof typeof FOLDER_FIELDS;

export function isFolderField(name: string): name is FolderField {
  return Object.hasOwn(FOLDER_FIELDS, name);
}

export function toFolderRecord(row: FolderRow): FolderRecord {
  return { id: row.id, name: row.name, parent: row.parent };
}
