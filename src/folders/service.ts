import type { FoldersRepository } from '../db/folders-repository';
import type { FolderRow } from '../db/schema';
import { AppError } from '../errors/app-error';
import { isUuid } from '../files/service';

const invalid = (message: string) => new AppError('INVALID_PAYLOAD', message);
const MAX_NAME = 255;

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
      if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_NAME) throw invalid(`"name" must be a non-empty string of at most ${MAX_NAME} characters.`);
      out.name = value;
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

export async function createFolder(repo: FoldersRepository, body: unknown): Promise<FolderRow> {
  const fields = await parseFolderBody(repo, body, true);
  return repo.insert({ id: crypto.randomUUID(), name: fields.name as string, parent: fields.parent ?? null });
}

/** Renames or moves a folder; a folder cannot move into itself or below itself (no cycles). */
export async function updateFolder(repo: FoldersRepository, id: string, body: unknown): Promise<FolderRow> {
  const existing = await requireFolder(repo, id);
  const fields = await parseFolderBody(repo, body, false);
  if (Object.keys(fields).length === 0) return existing;
  if (fields.parent && (await repo.isSelfOrAncestor(id, fields.parent))) {
    throw invalid('A folder cannot be moved into itself or into one of its subfolders.');
  }
  const updated = await repo.update(id, fields);
  if (!updated) throw notFound(id);
  return updated;
}

/** Deletes a folder; its files and subfolders move to the root (Directus). */
export async function deleteFolder(repo: FoldersRepository, id: string): Promise<void> {
  await requireFolder(repo, id);
  await repo.delete(id);
}
