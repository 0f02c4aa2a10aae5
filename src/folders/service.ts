import type { FoldersRepository } from '../db/folders-repository';
import type { FolderRow } from '../db/schema';
import { AppError } from '../errors/app-error';
import { checkedName } from '../files/fields';
import { isUuid } from '../files/service';

const invalid = (message: string) => new AppError('INVALID_PAYLOAD', message);
/** Bytes (UTF-8) of a folder's name, as of a file's download name. */
export const FOLDER_NAME_MAX_BYTES = 255;
/**
 * Folders one deployment may hold. Upload tokens may create folders (uploaders organise what they
 * upload, as in Directus) but cannot rename or delete them: this bounds what one can leave behind
 * (and what the page's folder tree and every folder list must carry) to ~2.5 MB of names.
 */
export const MAX_FOLDERS = 10_000;

function notFound(id: string): AppError {
  return new AppError('NOT_FOUND', `Folder "${id}" doesn't exist.`);
}

export async function requireFolder(repo: FoldersRepository, id: string): Promise<FolderRow> {
  const row = isUuid(id) ? await repo.get(id) : undefined;
  if (!row) throw notFound(id);
  return row;
}

/**
 * The fields of a folder body (`name`, `parent`), validated: a name of 1–255 characters, a parent
 * that exists. Anything else is refused, `id` included (ids are made here, as Directus does).
 */
async function parseFolderBody(repo: FoldersRepository, body: unknown, creating: boolean): Promise<Partial<Pick<FolderRow, 'name' | 'parent'>>> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('Send an object such as { "name": "Photos", "parent": null }.');
  const out: Partial<Pick<FolderRow, 'name' | 'parent'>> = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === 'name') {
      if (typeof value !== 'string' || value.trim() === '') throw invalid(`"name" must be a non-empty string of at most ${FOLDER_NAME_MAX_BYTES} bytes.`);
      out.name = checkedName('name', value, FOLDER_NAME_MAX_BYTES);
    } else if (key === 'parent') {
      if (value !== null && typeof value !== 'string') throw invalid('"parent" must be a folder id or null.');
      if (value !== null && !(isUuid(value) && (await repo.get(value)))) throw invalid(`"parent" names no folder ("${value}").`);
      out.parent = value;
    } else {
      throw invalid(key === 'id' ? 'Field "id" is read-only.' : `Unknown field "${key}"; a folder has "name" and "parent".`);
    }
  }
  if (creating && out.name === undefined) throw invalid('A folder needs a "name".');
  return out;
}

/** Creates a folder; the bound and the parent's existence are checked by the insert itself. */
export async function createFolder(repo: FoldersRepository, body: unknown): Promise<FolderRow> {
  const fields = await parseFolderBody(repo, body, true);
  const parent = fields.parent ?? null;
  const inserted = await repo.insert({ id: crypto.randomUUID(), name: fields.name as string, parent }, MAX_FOLDERS);
  if (inserted) return inserted;
  if ((await repo.count()) >= MAX_FOLDERS) {
    throw invalid(`A deployment may hold at most ${MAX_FOLDERS} folders: delete some before creating more.`);
  }
  throw invalid(`"parent" names no folder ("${parent}").`);
}

/**
 * Renames or moves a folder; a folder cannot move into itself or below itself (no cycles). The
 * update checks this in the same statement (see FoldersRepository.update); what is read after a
 * refusal only words the error.
 */
export async function updateFolder(repo: FoldersRepository, id: string, body: unknown): Promise<FolderRow> {
  const existing = await requireFolder(repo, id);
  const fields = await parseFolderBody(repo, body, false);
  if (Object.keys(fields).length === 0) return existing;
  const updated = await repo.update(id, fields);
  if (updated) return updated;
  await requireFolder(repo, id);
  const parent = fields.parent as string;
  if (await repo.isSelfOrAncestor(id, parent)) {
    throw invalid(`A folder cannot be moved into itself or into one of its subfolders: "${parent}" is inside "${id}", so the move would make a cycle.`);
  }
  throw invalid(`"parent" names no folder ("${parent}").`);
}

/**
 * Deletes folders; their files and subfolders move to the root (Directus). All exist, or none goes
 * (a 404 naming the first that does not); the deletion itself is one batch.
 */
export async function deleteFolders(repo: FoldersRepository, ids: string[]): Promise<void> {
  for (const id of ids) await requireFolder(repo, id);
  await repo.delete(ids);
}
