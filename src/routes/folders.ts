import { type Context, Hono } from 'hono';
import { FoldersRepository } from '../db/folders-repository';
import type { AppEnv } from '../env';
import { type FolderField, toFolderRecord } from '../folders/record';
import { createFolder, deleteFolders, requireFolder, updateFolder } from '../folders/service';
import { parseFolderQuery } from '../lib/query';
import { selectionDepth } from '../lib/query-paths';
import { requireAct } from '../middleware/auth';
import { keysBody, listAnswer, pick, withRelated } from './directus-shapes';
import { jsonBody } from './json-body';
import type { FolderRow } from '../db/schema';

/** Directus's `/folders`: the tree files are organised in. */
export const foldersRoutes = new Hono<AppEnv>();

const repo = (c: Context<AppEnv>) => new FoldersRepository(c.get('db'));

const project = (row: FolderRow, fields: FolderField[] | undefined) => pick(toFolderRecord(row), fields);

foldersRoutes.get('/', requireAct('read'), async (c) => {
  const query = parseFolderQuery(new URL(c.req.url).searchParams);
  return c.json(await listAnswer(query, 'parent', repo(c), project));
});

foldersRoutes.get('/:id', requireAct('read'), async (c) => {
  const query = parseFolderQuery(new URL(c.req.url).searchParams, 'item');
  const folders = repo(c);
  const row = await requireFolder(folders, c.req.param('id'));
  const via = await folders.chain(row.parent, selectionDepth(query.fields));
  return c.json({ data: withRelated(project(row, query.fields?.fields), query.fields, 'parent', via) });
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
