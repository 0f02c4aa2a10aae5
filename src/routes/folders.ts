import { type Context, Hono } from 'hono';
import { FoldersRepository } from '../db/folders-repository';
import type { AppEnv } from '../env';
import { type FolderField, isFolderField, toFolderRecord } from '../folders/record';
import { createFolder, deleteFolders, requireFolder, updateFolder } from '../folders/service';
import { parseQuery } from '../lib/query';
import { requireAct } from '../middleware/auth';
import { jsonBytes, keysBody, listEnvelope } from './directus-shapes';
import { jsonBody } from './json-body';
import type { FolderRow } from '../db/schema';

/** Directus's `/folders`: the tree files are organised in. */
export const foldersRoutes = new Hono<AppEnv>();

const repo = (c: Context<AppEnv>) => new FoldersRepository(c.get('db'));

function project(row: FolderRow, fields: FolderField[] | undefined) {
  const record = toFolderRecord(row);
  return fields ? Object.fromEntries(fields.map((f) => [f, record[f]])) : record;
}

foldersRoutes.get('/', requireAct('read'), async (c) => {
  const query = parseQuery(new URL(c.req.url).searchParams, isFolderField);
  const result = await repo(c).list(query, (row) => jsonBytes(project(row, query.fields)));
  const data = result.rows.map((r) => project(r, query.fields));
  return c.json(listEnvelope(data, result));
});

foldersRoutes.get('/:id', requireAct('read'), async (c) => {
  const query = parseQuery(new URL(c.req.url).searchParams, isFolderField);
  return c.json({ data: project(await requireFolder(repo(c), c.req.param('id')), query.fields) });
});

foldersRoutes.post('/', requireAct('createFolder'), async (c) => {
  return c.json({ data: toFolderRecord(await createFolder(repo(c), await jsonBody(c))) });
});

foldersRoutes.patch('/:id', requireAct('changeFolder'), async (c) => {
  return c.json({ data: toFolderRecord(await updateFolder(repo(c), c.req.param('id'), await jsonBody(c))) });
});

foldersRoutes.delete('/:id', requireAct('changeFolder'), async (c) => {
  await deleteFolders(repo(c), [c.req.param('id')]);
  return c.body(null, 204);
});

/** DELETE /folders with `["id", …]` or `{ "keys": ["id", …] }` (Directus): all exist, or none goes. */
foldersRoutes.delete('/', requireAct('changeFolder'), async (c) => {
  await deleteFolders(repo(c), await keysBody(c));
  return c.body(null, 204);
});
