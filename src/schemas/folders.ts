import * as z from 'zod/mini';
import { aggregateRow, itemOf, listOf } from './common';
import { named } from './registry';

/** A folder as the Directus REST API returns it (`directus_folders`). */
export const folderRecord = named(z.object({ id: z.string(), name: z.string(), parent: z.nullable(z.string()) }), 'Folder', 'A folder of the tree files are organised in.');

/** A folder as a read or a list answers it: the fields asked for, `parent` expanded with `parent.*`. */
export const folderItem = named(
  z.partial(z.object({ id: z.string(), name: z.string(), parent: z.union([z.string(), z.null(), z.record(z.string(), z.unknown())]) })),
  'FolderItem',
  'A folder with the fields asked for (`fields`), `parent` expanded when `fields` names `parent.*`.',
);

/**
 * A folder body (POST needs `name`). Checked by parseFolderBody (src/folders/service.ts), which also
 * asks the database whether `parent` exists: its messages stay there.
 */
export const folderInput = named(
  z.strictObject({ name: z.optional(z.string().check(z.minLength(1))), parent: z.optional(z.nullable(z.string())) }),
  'FolderInput',
  'A folder\'s `name` (1 to 255 bytes; required to create) and `parent` (a folder id, or null for the root).',
);

export const folderAnswer = itemOf(folderRecord);
export const folderItemAnswer = itemOf(folderItem);
export const folderListAnswer = listOf(z.union([folderItem, aggregateRow]));

export type FolderRecord = z.output<typeof folderRecord>;
