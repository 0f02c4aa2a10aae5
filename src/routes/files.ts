import { type Context, Hono } from 'hono';
import { FilesRepository } from '../db/files-repository';
import type { FileRow } from '../db/schema';
import type { AppEnv } from '../env';
import { AppError } from '../errors/app-error';
import { type FileFieldsPatch, parseFileFields } from '../files/fields';
import { importFile } from '../files/import';
import { multipartParts } from '../files/multipart';
import { renameFile } from '../files/rename';
import { parseFileQuery } from '../lib/query';
import { selectionDepth } from '../lib/query-paths';
import { type FileField, type FileRecord, toRecord } from '../files/record';
import { signAssetUrl } from '../assets/signing';
import { createFile, deleteFile, type FilesDeps, newPrivateHash, replaceFile, requireFile, updateFileFields } from '../files/service';
import { assertMayDo, hiddenFields } from '../auth/policy';
import { dict, assertSafeKey } from '../lib/safe-keys';
import { principal, requireAct } from '../middleware/auth';
import { filesDeps, forgetAtEdge } from './assets';
import { batchUpdateBody, keysBody, listAnswer, withRelated } from './directus-shapes';
import { jsonBody } from './json-body';

export const filesRoutes = new Hono<AppEnv>();

function deps(c: Context<AppEnv>): FilesDeps {
  return filesDeps(c);
}

/** The record as the caller may see it: only `fields` when given, never a field its scope hides. */
function project(row: FileRow, hidden: ReadonlySet<FileField>, fields?: FileField[]): Partial<FileRecord> {
  const record: Partial<FileRecord> = toRecord(row);
  for (const field of hidden) delete record[field];
  return fields ? Object.fromEntries(fields.map((f) => [f, record[f]])) : record;
}

/** The fields the request's scope may not see. */
async function hiddenFor(c: Context<AppEnv>): Promise<ReadonlySet<FileField>> {
  return hiddenFields(await principal(c));
}

function isMultipart(c: Context<AppEnv>): boolean {
  return /^multipart\/form-data/i.test(c.req.header('content-type') ?? '');
}

/**
 * Walks a multipart body: form fields collect until a file part arrives, then apply to that file
 * (Directus behaviour); each file is handed to `onFile` while it streams.
 */
async function eachFile(
  c: Context<AppEnv>,
  onFile: (file: { stream: ReadableStream<Uint8Array>; filename: string; declaredType: string }, form: Record<string, string>) => Promise<void>,
): Promise<number> {
  let form = dict<string>();
  let count = 0;
  for await (const part of multipartParts(c.req.raw)) {
    if (part.kind === 'field') {
      assertSafeKey(part.name, 'INVALID_PAYLOAD', 'form field names');
      form[part.name] = part.value;
      continue;
    }
    await onFile({ stream: part.stream, filename: part.filename, declaredType: part.mimeType }, form);
    form = dict<string>();
    count++;
  }
  if (count === 0) throw new AppError('INVALID_PAYLOAD', 'No file part in the request: add the file as a form field after its metadata fields.');
  return count;
}

/** POST /files: one or several files, streamed to storage. */
filesRoutes.post('/', requireAct('create'), async (c) => {
  const d = deps(c);
  const uploadedBy = (await principal(c))?.name ?? null;
  const created: FileRow[] = [];
  try {
    await eachFile(c, async (file, form) => {
      const { fields, storage } = parseFileFields(form, { allowStorage: true, fromForm: true });
      created.push(await createFile(d, file, fields, { uploadedBy, ...(storage === undefined ? {} : { storage }) }));
    });
  } catch (error) {
    // One request, one outcome: files this request already stored are removed again.
    await Promise.allSettled(created.map((row) => deleteFile(d, row.id)));
    throw error;
  }
  const hidden = await hiddenFor(c);
  const records = created.map((row) => project(row, hidden));
  return c.json({ data: records.length === 1 ? records[0] : records });
});

/** POST /files/import: `{ "url": "…", "data": { …fields } }`. */
filesRoutes.post('/import', requireAct('create'), async (c) => {
  const body = await jsonBody(c);
  if (typeof body !== 'object' || body === null || typeof (body as { url?: unknown }).url !== 'string') {
    throw new AppError('INVALID_PAYLOAD', 'Send { "url": "https://…", "data": { …optional fields } }.');
  }
  const { url, data } = body as { url: string; data?: unknown };
  if (data !== undefined && (typeof data !== 'object' || data === null || Array.isArray(data))) {
    throw new AppError('INVALID_PAYLOAD', '"data" must be an object of file fields.');
  }
  const { fields, storage } = parseFileFields((data ?? {}) as Record<string, unknown>, { allowStorage: true });
  const row = await importFile(deps(c), url, fields, { storage, uploadedBy: (await principal(c))?.name ?? null });
  return c.json({ data: project(row, await hiddenFor(c)) });
});

filesRoutes.get('/', requireAct('read'), async (c) => {
  const hidden = await hiddenFor(c);
  const query = parseFileQuery(new URL(c.req.url).searchParams, hidden);
  return c.json(await listAnswer(query, 'folder', new FilesRepository(c.get('db')), (row, fields) => project(row, hidden, fields)));
});

filesRoutes.get('/:id', requireAct('read'), async (c) => {
  const hidden = await hiddenFor(c);
  const query = parseFileQuery(new URL(c.req.url).searchParams, hidden, 'item');
  const d = deps(c);
  const row = await requireFile(d, c.req.param('id'));
  const via = await d.repo.folderChain(row.folder, selectionDepth(query.fields));
  return c.json({ data: withRelated(project(row, hidden, query.fields?.fields), query.fields, 'folder', via) });
});

/** PATCH /files/:id: JSON edits fields; multipart replaces the bytes (fields before the file apply). */
filesRoutes.patch('/:id', async (c) => {
  const d = deps(c);
  const id = c.req.param('id');
  const replacing = isMultipart(c);
  assertMayDo(await principal(c), replacing ? 'replace' : 'update');
  if (replacing) {
    await requireFile(d, id);
    let row: FileRow | undefined;
    await eachFile(c, async (file, form) => {
      if (row) throw new AppError('INVALID_PAYLOAD', 'Replace a file with exactly one file part.');
      row = await replaceFile(d, id, file, parseFileFields(form, { allowStorage: false, fromForm: true }).fields);
    });
    await forgetAtEdge(c, id);
    return c.json({ data: project(row as FileRow, await hiddenFor(c)) });
  }
  const body = await jsonBody(c);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AppError('INVALID_PAYLOAD', 'Send an object of fields to change.');
  // `filename_disk` renames the stored object (src/files/rename.ts), before the other fields change.
  const { filename_disk: newKey, ...rest } = body as Record<string, unknown>;
  const { fields } = parseFileFields(rest, { allowStorage: false });
  const renamed = Object.hasOwn(body, 'filename_disk') ? await renameFile(d, id, newKey) : undefined;
  const row = renamed && Object.keys(rest).length === 0 ? renamed : await updateFileFields(d, id, fields as Partial<FileFieldsPatch>);
  await forgetAtEdge(c, row.id);
  return c.json({ data: project(row, await hiddenFor(c)) });
});

filesRoutes.delete('/:id', requireAct('delete'), async (c) => {
  const d = deps(c);
  const { id } = await requireFile(d, c.req.param('id'));
  await deleteFile(d, id);
  await forgetAtEdge(c, id);
  return c.body(null, 204);
});

/** DELETE /files with `["id", …]` or `{ "keys": ["id", …] }` (Directus). */
filesRoutes.delete('/', requireAct('delete'), async (c) => {
  const keys = await keysBody(c);
  const d = deps(c);
  for (const id of keys) await requireFile(d, id);
  for (const id of keys) {
    await deleteFile(d, id);
    await forgetAtEdge(c, id);
  }
  return c.body(null, 204);
});

/**
 * PATCH /files with `{ "keys": ["id", …], "data": { … } }` (Directus's batch update; the file library
 * moves a selection with it): every id must exist before any changes; answers the updated records.
 */
filesRoutes.patch('/', requireAct('update'), async (c) => {
  const { keys, data } = await batchUpdateBody(c);
  const { fields } = parseFileFields(data, { allowStorage: false });
  const d = deps(c);
  for (const id of keys) await requireFile(d, id);
  const rows: FileRow[] = [];
  for (const id of keys) {
    rows.push(await updateFileFields(d, id, fields as Partial<FileFieldsPatch>));
    await forgetAtEdge(c, id);
  }
  const hidden = await hiddenFor(c);
  return c.json({ data: rows.map((row) => project(row, hidden)) });
});

/** POST /files/:id/rotate-hash: a new private hash; the old `/assets/<hash>` URL is dead at once. */
filesRoutes.post('/:id/rotate-hash', requireAct('rotateHash'), async (c) => {
  const d = deps(c);
  const row = await requireFile(d, c.req.param('id'));
  const updated = await updateFileFields(d, row.id, { privateHash: newPrivateHash() });
  await forgetAtEdge(c, row.id);
  return c.json({ data: project(updated, await hiddenFor(c)) });
});

/** GET /files/:id/sign?expires_in=3600&width=…: a signed, expiring /assets URL for the file. */
filesRoutes.get('/:id/sign', requireAct('sign'), async (c) => {
  const row = await requireFile(deps(c), c.req.param('id'));
  const url = await signAssetUrl(c.get('config'), new URL(c.req.url).origin, row.id, new URL(c.req.url).searchParams);
  return c.json({ data: { url } });
});
