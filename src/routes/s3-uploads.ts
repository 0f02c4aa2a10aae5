import { type Context, Hono } from 'hono';
import { hiddenFields } from '../auth/policy';
import { hashToken, type Principal } from '../auth/tokens';
import type { Caller } from '../direct/issue';
import { directOffer } from '../direct/offer';
import { abortDirectUpload, completeDirectUpload, type DirectStart, signPart, startDirectUpload, storedParts } from '../direct/uploads';
import type { AppEnv } from '../env';
import { AppError } from '../errors/app-error';
import { parseFileFields } from '../files/fields';
import { toRecord } from '../files/record';
import type { UploadedPart } from '../storage/s3-client';
import { principal, requestToken, requireAct } from '../middleware/auth';
import { filesDeps, waitUntil } from './assets';
import { jsonBody } from './json-body';

/**
 * Direct-to-bucket uploads at /files/s3: the routes of Uppy's AwsS3 plugin with `endpoint` (Companion's
 * protocol), so parts go from the client to the bucket through presigned URLs. Every route needs the
 * upload scope (POST /files's act); which upload a request may touch is src/direct/issue.ts's rule.
 */
export const s3UploadsRoutes = new Hono<AppEnv>();

s3UploadsRoutes.use(requireAct('create'));

/** Uppy's own file meta, sent with the fields in `metadata`; not fields of the record. */
const UPPY_META = new Set(['name', 'type', 'relativePath']);

/** Who calls (requireAct has made sure there is someone), and the hash of the token uploads are bound to. */
async function caller(c: Context<AppEnv>): Promise<Caller> {
  return { principal: (await principal(c)) as Principal, tokenHash: await hashToken(requestToken(c) ?? '') };
}

/** The `key` query parameter every route after creation names. */
function keyOf(c: Context<AppEnv>): string {
  const key = c.req.query('key');
  if (!key) throw new AppError('INVALID_QUERY', 'Name the upload\'s key: ?key=<the key POST /files/s3/multipart returned>.');
  return key;
}

function parseStart(body: unknown): DirectStart {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AppError('INVALID_PAYLOAD', 'Send { "filename", "type", "metadata": { …file fields } }.');
  const { filename, type, metadata } = body as Record<string, unknown>;
  if (typeof filename !== 'string' || filename === '') throw new AppError('INVALID_PAYLOAD', '"filename" must be the file\'s name (a non-empty string).');
  if (type !== undefined && type !== null && typeof type !== 'string') throw new AppError('INVALID_PAYLOAD', '"type" must be a media type string.');
  if (metadata !== undefined && metadata !== null && (typeof metadata !== 'object' || Array.isArray(metadata))) {
    throw new AppError('INVALID_PAYLOAD', '"metadata" must be an object of file fields (title, description, tags, folder, storage, access, location…).');
  }
  const given = Object.entries((metadata ?? {}) as Record<string, unknown>).filter(([name]) => !UPPY_META.has(name));
  const { fields, storage } = parseFileFields(Object.fromEntries(given), { allowStorage: true });
  return { filename, declaredType: typeof type === 'string' ? type : undefined, fields, storage };
}

function parseParts(body: unknown): UploadedPart[] {
  const parts = typeof body === 'object' && body !== null ? (body as { parts?: unknown }).parts : undefined;
  const well = (p: unknown): p is { PartNumber: number; ETag: string } =>
    typeof p === 'object' && p !== null && Number.isInteger((p as { PartNumber?: unknown }).PartNumber) && typeof (p as { ETag?: unknown }).ETag === 'string' && (p as { ETag: string }).ETag.length <= 256;
  if (!Array.isArray(parts) || parts.length === 0 || parts.length > 10_000 || !parts.every(well)) {
    throw new AppError('INVALID_PAYLOAD', 'Send { "parts": [{ "PartNumber": 1, "ETag": "…" }, …] }: 1 to 10,000 parts, each with the ETag its PUT answered.');
  }
  return parts.map((p) => ({ partNumber: p.PartNumber, etag: p.ETag }));
}

/** Uppy's single-request upload (below `shouldUseMultipart`'s threshold) is not offered: every upload is multipart. */
s3UploadsRoutes.get('/params', () => {
  throw new AppError(
    'INVALID_PAYLOAD',
    'Single-request presigned uploads are not offered: configure the client with shouldUseMultipart: true (every file goes as a multipart upload, one part for a small file).',
  );
});

/** Whether the file library page sends large files here, from what size, in which parts, to which bucket origin. */
s3UploadsRoutes.get('/config', (c) => {
  const offer = directOffer(c.get('config'));
  return c.json({
    data: offer
      ? { enabled: true, storage: offer.storage, min_size: offer.minSize, part_size: offer.partSize, bucket_origin: offer.bucketOrigin }
      : { enabled: false, storage: null, min_size: null, part_size: null, bucket_origin: null },
  });
});

s3UploadsRoutes.post('/multipart', async (c) => {
  const start = parseStart(await jsonBody(c));
  return c.json(await startDirectUpload(filesDeps(c), await caller(c), start));
});

s3UploadsRoutes.get('/multipart/:uploadId/:partNumber', async (c) => {
  const partNumber = /^\d{1,5}$/.test(c.req.param('partNumber')) ? Number(c.req.param('partNumber')) : Number.NaN;
  const signed = await signPart(filesDeps(c), await caller(c), c.req.param('uploadId'), keyOf(c), partNumber);
  return c.json({ url: signed.url, expires: Math.round((signed.expires - Date.now()) / 1000) });
});

s3UploadsRoutes.get('/multipart/:uploadId', async (c) => {
  const parts = await storedParts(filesDeps(c), await caller(c), c.req.param('uploadId'), keyOf(c));
  return c.json(parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag, Size: p.size })));
});

s3UploadsRoutes.post('/multipart/:uploadId/complete', async (c) => {
  const key = keyOf(c);
  const parts = parseParts(await jsonBody(c));
  const done = await completeDirectUpload(filesDeps(c), await caller(c), c.req.param('uploadId'), key, parts);
  if (done.checksum) waitUntil(c, done.checksum());
  const record: Partial<ReturnType<typeof toRecord>> = toRecord(done.row);
  for (const field of hiddenFields(await principal(c))) delete record[field];
  return c.json({ location: `${new URL(c.req.url).origin}/assets/${done.row.id}`, key, data: record });
});

s3UploadsRoutes.delete('/multipart/:uploadId', async (c) => {
  await abortDirectUpload(filesDeps(c), await caller(c), c.req.param('uploadId'), keyOf(c));
  return c.json({});
});
