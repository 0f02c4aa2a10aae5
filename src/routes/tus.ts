import { type Context, Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env';
import { forgetAtEdge } from './assets';
import { AppError } from '../errors/app-error';
import { hex } from '../lib/bytes';
import { assertMayDo } from '../auth/policy';
import { principal, requestToken, requireAct } from '../middleware/auth';
import {
  CHECKSUM_ALGORITHMS,
  integerHeader,
  OFFSET_CONTENT_TYPE,
  type Outcome,
  parseUploadChecksum,
  parseUploadConcat,
  parseUploadMetadata,
  TUS_EXTENSIONS,
  TUS_VERSION,
  tusError,
} from '../uploads/tus-protocol';
import type { UploadInfo } from '../uploads/session-store';
import type { UploadSession } from '../uploads/upload-session';

/** TUS 1.0.0 at /files/tus (the path Directus uses). */
export const tusRoutes = new Hono<AppEnv>();

tusRoutes.use(
  createMiddleware<AppEnv>(async function tusHeaders(c, next) {
    await next();
    c.res.headers.set('Tus-Resumable', TUS_VERSION);
  }),
);

/** OPTIONS needs neither a token nor Tus-Resumable: it is how clients discover the server. */
tusRoutes.options('*', (c) => {
  const config = c.get('config');
  return c.body(null, 204, {
    'Tus-Version': TUS_VERSION,
    'Tus-Extension': TUS_EXTENSIONS.join(','),
    'Tus-Max-Size': String(config.tus.maxSize),
    'Tus-Checksum-Algorithm': Object.keys(CHECKSUM_ALGORITHMS).join(','),
  });
});

tusRoutes.use(
  createMiddleware<AppEnv>(async function requireTusResumable(c, next) {
    if (c.req.header('tus-resumable') !== TUS_VERSION) {
      return c.json(
        { errors: [{ message: `Send Tus-Resumable: ${TUS_VERSION}.`, extensions: { code: 'TUS_VERSION_UNSUPPORTED' } }] },
        412,
        { 'Tus-Version': TUS_VERSION },
      );
    }
    await next();
  }),
);
tusRoutes.use(requireAct('create'));

/** The uploader's identity: a hash of its token, so only the token that created an upload can use it. */
async function owner(c: Context<AppEnv>): Promise<string> {
  return hex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(requestToken(c) ?? '')));
}

function session(c: Context<AppEnv>, id: string): DurableObjectStub<UploadSession> {
  let doId: DurableObjectId;
  try {
    doId = c.env.UPLOADS.idFromString(id);
  } catch {
    throw tusError(404, 'Upload not found.');
  }
  return c.env.UPLOADS.get(doId);
}

function unwrap<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) throw new AppError(outcome.code, outcome.message);
  return outcome.value;
}

/** An upload's answer; one that just replaced a file's bytes also retires the file's edge copies. */
async function settled(c: Context<AppEnv>, outcome: Outcome<UploadInfo>): Promise<UploadInfo> {
  const info = unwrap(outcome);
  if (info.replaced && info.fileId) await forgetAtEdge(c, info.fileId);
  return info;
}

function uploadHeaders(info: UploadInfo): Record<string, string> {
  const h: Record<string, string> = { 'Upload-Expires': new Date(info.expiresAt).toUTCString(), 'Cache-Control': 'no-store' };
  // A final upload being assembled has no offset yet (the concatenation extension): HEAD until it has.
  if (info.offset !== undefined) h['Upload-Offset'] = String(info.offset);
  if (info.fileId) h['Directus-File-Id'] = info.fileId;
  return h;
}

/** creation, creation-defer-length, creation-with-upload, concatenation. */
tusRoutes.post('/', async (c) => {
  const config = c.get('config');
  const headers = c.req.raw.headers;
  const length = integerHeader(headers, 'upload-length');
  const defer = headers.get('upload-defer-length');
  const concat = parseUploadConcat(headers.get('upload-concat'), c.req.url);
  const hasBody = c.req.header('content-type')?.toLowerCase() === OFFSET_CONTENT_TYPE && c.req.raw.body;
  if (concat && 'final' in concat) {
    if (length !== undefined || defer !== null) throw tusError(400, 'A final upload takes no Upload-Length: its length is the sum of its partial uploads.');
    if (hasBody) throw tusError(403, 'A final upload is made of its partial uploads and takes no body.');
  } else if ((length === undefined) === (defer === null)) throw tusError(400, 'Send exactly one of Upload-Length and Upload-Defer-Length: 1.');
  if (defer !== null && defer !== '1') throw tusError(400, 'Upload-Defer-Length must be 1.');
  if (length !== undefined && length > config.tus.maxSize) throw tusError(413, `Upload-Length ${length} is over Tus-Max-Size ${config.tus.maxSize}.`);
  const metadataHeader = headers.get('upload-metadata') ?? '';
  const metadata = parseUploadMetadata(metadataHeader);
  // `id` names an existing file to replace: the same act as PATCH /files/:id with a file.
  if (metadata.id !== undefined) assertMayDo(await principal(c), 'replace');

  const id = c.env.UPLOADS.newUniqueId();
  const stub = c.env.UPLOADS.get(id);
  const who = await owner(c);
  let info = await settled(
    c,
    await stub.create({
      owner: who,
      length,
      metadataHeader,
      metadata,
      maxSize: config.tus.maxSize,
      expirationMs: config.tus.expirationMs,
      uploadedBy: (await principal(c))?.name ?? null,
      ...(concat ? { concat } : {}),
    }),
  );
  if (hasBody) info = await settled(c, await stub.append({ owner: who, offset: 0, ...bodyInput(headers) }, c.req.raw.body));
  const location = new URL(`${c.req.path.replace(/\/$/, '')}/${id.toString()}`, c.req.url).toString();
  return c.body(null, 201, { Location: location, ...uploadHeaders(info) });
});

/** HEAD (Hono routes HEAD to GET handlers and drops the body). */
tusRoutes.get('/:id', async (c) => {
  const info = await settled(c, await session(c, c.req.param('id')).head(await owner(c)));
  const h = uploadHeaders(info);
  if (info.length !== undefined) h['Upload-Length'] = String(info.length);
  else h['Upload-Defer-Length'] = '1';
  if (info.metadataHeader) h['Upload-Metadata'] = info.metadataHeader;
  if (info.concat) h['Upload-Concat'] = info.concat;
  return c.body(null, 200, h);
});

function bodyInput(headers: Headers) {
  const contentLength = integerHeader(headers, 'content-length');
  const checksum = parseUploadChecksum(headers.get('upload-checksum'));
  return { ...(contentLength === undefined ? {} : { contentLength }), ...(checksum ? { checksum } : {}) };
}

tusRoutes.patch('/:id', async (c) => {
  const headers = c.req.raw.headers;
  if (c.req.header('content-type')?.toLowerCase() !== OFFSET_CONTENT_TYPE) {
    throw tusError(415, `A PATCH must have Content-Type: ${OFFSET_CONTENT_TYPE}.`);
  }
  const offset = integerHeader(headers, 'upload-offset');
  if (offset === undefined) throw tusError(400, 'Upload-Offset is required.');
  const length = integerHeader(headers, 'upload-length');
  const input = { owner: await owner(c), offset, ...(length === undefined ? {} : { length }), ...bodyInput(headers) };
  const info = await settled(c, await session(c, c.req.param('id')).append(input, c.req.raw.body));
  return c.body(null, 204, uploadHeaders(info));
});

/** termination. */
tusRoutes.delete('/:id', async (c) => {
  unwrap(await session(c, c.req.param('id')).terminate(await owner(c)));
  return c.body(null, 204);
});
