/**
 * What s3rver 3.7 lacks for direct-to-bucket uploads, added to it in place (no other embedded S3
 * server in the registry has them either: its maintained fork @20minutes/s3rver 5 and
 * @push.rocks/smarts3, a wrapper of s3rver, have the same gaps):
 * - ListParts (`GET /<bucket>/<key>?uploadId=`), for a client that resumes;
 * - AbortMultipartUpload (`DELETE /<bucket>/<key>?uploadId=`), which removes the parts;
 * - UploadPart and CompleteMultipartUpload of an upload that does not exist (aborted, completed) or
 *   on a key other than the upload's are NoSuchUpload, as S3 answers (s3rver stored such a part in a
 *   new folder, and wrote the upload's own key whatever a completion named).
 * They run after s3rver's own signature check, on its own files (uploads/<id>/<n> and <n>.md5).
 * Also `allowBrowserUploads`, the bucket CORS rule a page needs to PUT parts and read their ETag.
 * Runs in Node (tests' global setup, the local stack, `npm start`).
 */
import { createRequire } from 'node:module';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AwsClient } from 'aws4fetch';
import type { S3Target } from './s3-target-type.ts';

const require = createRequire(import.meta.url);

interface KoaContext {
  method: string;
  query: Record<string, string | undefined>;
  params: { bucket: string; key?: string };
  store: { getResourcePath(bucket: string, key: string | undefined, resource: string): string };
  status: number;
  type: string;
  body: unknown;
}
type Middleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void> | void;
interface Layer {
  path: string;
  methods: string[];
  stack: Middleware[];
  opts: { end: boolean };
}
interface Router {
  stack: Layer[];
  use(path: string, middleware: Middleware): void;
}

const escapeXml = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

function s3Error(ctx: KoaContext, status: number, code: string, message: string): void {
  ctx.status = status;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error>`;
}

/** The folder s3rver keeps an upload's parts in, or undefined when there is no such upload. */
async function uploadDir(ctx: KoaContext, uploadId: string): Promise<string | undefined> {
  if (!/^[0-9a-f]{32}$/.test(uploadId)) return undefined;
  const dir = join(ctx.store.getResourcePath(ctx.params.bucket, undefined, 'uploads'), uploadId);
  return (await stat(dir).catch(() => undefined))?.isDirectory() ? dir : undefined;
}

const multipartOperations: Middleware = async function multipartOperations(ctx, next) {
  const uploadId = ctx.query.uploadId;
  const op = uploadId === undefined ? undefined : ({ GET: 'list', DELETE: 'abort', POST: 'complete', PUT: 'part' } as const)[ctx.method];
  if (op === undefined || uploadId === undefined) return next();
  const dir = await uploadDir(ctx, uploadId);
  const storedKey = dir ? await readFile(join(dir, 'key'), 'utf8') : undefined;
  if (!dir || storedKey !== ctx.params.key) {
    return s3Error(ctx, 404, 'NoSuchUpload', 'The specified multipart upload does not exist.');
  }
  if (op === 'complete' || op === 'part') return next();
  if (op === 'abort') {
    await rm(dir, { recursive: true, force: true });
    ctx.status = 204;
    ctx.body = '';
    return;
  }
  const numbers = (await readdir(dir)).filter((name) => /^\d+$/.test(name)).map(Number).sort((a, b) => a - b);
  const parts = await Promise.all(
    numbers.map(async (n) => {
      const [md5, info] = await Promise.all([readFile(join(dir, `${n}.md5`), 'utf8').catch(() => undefined), stat(join(dir, String(n)))]);
      return md5 === undefined ? '' : `<Part><PartNumber>${n}</PartNumber><ETag>"${md5}"</ETag><Size>${info.size}</Size><LastModified>${info.mtime.toISOString()}</LastModified></Part>`;
    }),
  );
  ctx.status = 200;
  ctx.type = 'application/xml';
  ctx.body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<ListPartsResult><Bucket>${escapeXml(ctx.params.bucket)}</Bucket><Key>${escapeXml(ctx.params.key ?? '')}</Key>` +
    `<UploadId>${uploadId}</UploadId><MaxParts>10000</MaxParts><IsTruncated>false</IsTruncated>${parts.join('')}</ListPartsResult>`;
};

/**
 * Adds the operations to s3rver's router (one router per process, shared by every s3rver): just
 * after its authentication layer, so requests are signed and checked as any other.
 */
export function addS3rverMultipartOperations(): void {
  const router = require('s3rver/lib/routes.js') as Router;
  if (router.stack.some((layer) => layer.stack.includes(multipartOperations))) return;
  const auth = router.stack.findIndex((layer) => layer.stack.some((m) => m.name === 'authentication'));
  if (auth < 0) throw new Error('s3rver changed: its authentication layer was not found');
  router.use('/:bucket/:key+', multipartOperations);
  const added = router.stack.pop() as Layer;
  router.stack.splice(auth + 1, 0, added);
}

/**
 * The bucket CORS rule that lets pages of `origins` PUT parts to presigned URLs and read each part's
 * `ETag` (PutBucketCors). `*` allows any origin.
 */
export async function allowBrowserUploads(target: S3Target, origins: string[]): Promise<void> {
  const rules = origins.map((o) => `<AllowedOrigin>${escapeXml(o)}</AllowedOrigin>`).join('');
  const body =
    `<CORSConfiguration><CORSRule>${rules}<AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod><AllowedMethod>HEAD</AllowedMethod>` +
    `<AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>3600</MaxAgeSeconds></CORSRule></CORSConfiguration>`;
  const aws = new AwsClient({ accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey, region: target.region, service: 's3', retries: 0 });
  const md5 = (await import('node:crypto')).createHash('md5').update(body).digest('base64');
  const res = await aws.fetch(`${target.endpoint}/${target.bucket}?cors`, { method: 'PUT', body, headers: { 'content-md5': md5, 'content-type': 'application/xml' } });
  if (!res.ok) throw new Error(`PutBucketCors on ${target.bucket}: ${res.status} ${await res.text()}`);
}

/**
 * The origins whose pages may PUT parts to the embedded server: the Worker's own (its /admin page)
 * and those CORS_ORIGIN allows to call the API (`true` or `*`: any; `false` or empty: none more).
 */
export function browserOrigins(corsOrigin: string | undefined, workerOrigin: string): string[] {
  const value = (corsOrigin ?? '').trim();
  if (value === 'true' || value === '*') return ['*'];
  if (value === '' || value === 'false') return [workerOrigin];
  return [workerOrigin, ...value.split(',').map((o) => o.trim()).filter((o) => o !== '')];
}
