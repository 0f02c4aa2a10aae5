import * as z from 'zod/mini';

/** The S3 multipart minimum part size; also the smallest `TUS__CHUNK_SIZE` we accept. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** The S3 multipart maximum part size. */
export const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;

export type Provider = 'aws' | 'r2' | 'spaces' | 'b2' | 'custom';
export type ServerSideEncryption = 'AES256' | 'aws:kms' | 'aws:kms:dsse';

/** One storage location, parsed from its `STORAGE_<LOC>_*` variables. */
export interface StorageLocation {
  name: string;
  /** `STORAGE_<LOC>_`: used in error hints so a message names the variable to fix. */
  envPrefix: string;
  driver: 's3';
  provider: Provider;
  bucket: string;
  /** Absent only for anonymous access to a non-AWS endpoint. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** The SigV4 signing region, always explicit. */
  region: string;
  /** Key prefix inside the bucket: no leading or trailing slash, `''` for none. */
  root: string;
  /** The service endpoint without the bucket, e.g. `https://s3.eu-west-1.amazonaws.com`. */
  endpoint: URL;
  pathStyle: boolean;
  acl?: string;
  serverSideEncryption?: ServerSideEncryption;
  serverSideEncryptionKmsKeyId?: string;
  connectionTimeoutMs: number;
  socketTimeoutMs: number;
  /** Accepted for Directus compatibility; workerd owns connection pooling, so it has no effect. */
  maxSockets: number;
  /** Accepted for Directus compatibility; workerd owns keep-alive, so it has no effect. */
  keepAlive: boolean;
  /** The part size P for multipart writes and TUS uploads. */
  tusChunkSize: number;
  /**
   * Concatenated TUS uploads copy aligned parts inside the store (UploadPartCopy). Off: every part
   * streams through the Worker (for a gateway in front of the store that mishandles the copies).
   */
  uploadPartCopy: boolean;
}

export interface ConfigIssue {
  variable: string;
  message: string;
}

const CANNED_ACLS = [
  'private',
  'public-read',
  'public-read-write',
  'authenticated-read',
  'aws-exec-read',
  'bucket-owner-read',
  'bucket-owner-full-control',
] as const;

const wholeNumber = (what: string, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.pipe(
    z.string().check(z.regex(/^\d+$/, { error: `expected a whole number of ${what}` })),
    z.pipe(
      z.transform((v: string) => Number(v)),
      z.number().check(
        z.gte(min, { error: `must be at least ${min} ${what}` }),
        z.lte(max, { error: `must be at most ${max} ${what}` }),
      ),
    ),
  );

const bool = z.stringbool({ error: 'expected true or false' });

/** The documented options of a location, with their defaults (Directus's S3 driver names). */
const optionsSchema = z.object({
  DRIVER: z._default(z.enum(['s3'], { error: 'only the "s3" driver exists here (every S3-compatible store uses it)' }), 's3'),
  BUCKET: z.string({ error: 'is required: the name of the bucket' }).check(z.minLength(1, { error: 'must not be empty' })),
  KEY: z.optional(z.string()),
  SECRET: z.optional(z.string()),
  REGION: z.optional(
    z.string().check(z.regex(/^[a-z0-9-]+$/, { error: 'expected a region name such as us-east-1, auto or nyc3' })),
  ),
  ROOT: z._default(z.string(), ''),
  ENDPOINT: z.optional(
    z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL such as https://s3.example.com' }),
  ),
  FORCE_PATH_STYLE: z._default(bool, false),
  ACL: z.optional(z.enum(CANNED_ACLS, { error: `expected a canned ACL: ${CANNED_ACLS.join(', ')}` })),
  SERVER_SIDE_ENCRYPTION: z.optional(
    z.enum(['AES256', 'aws:kms', 'aws:kms:dsse'], { error: 'expected AES256, aws:kms or aws:kms:dsse' }),
  ),
  SERVER_SIDE_ENCRYPTION_KMS_KEY_ID: z.optional(z.string().check(z.minLength(1, { error: 'must not be empty' }))),
  CONNECTION_TIMEOUT: z._default(wholeNumber('milliseconds', 1), 5000),
  SOCKET_TIMEOUT: z._default(wholeNumber('milliseconds', 1), 120000),
  MAX_SOCKETS: z._default(wholeNumber('sockets', 1), 500),
  KEEP_ALIVE: z._default(bool, true),
  TUS__CHUNK_SIZE: z._default(wholeNumber('bytes', MIN_PART_SIZE, MAX_PART_SIZE), MIN_PART_SIZE),
  UPLOAD_PART_COPY: z._default(bool, true),
});

export const LOCATION_OPTIONS = Object.keys(optionsSchema.shape);

type Options = z.infer<typeof optionsSchema>;

/**
 * Parses one location. `raw` maps option names (`BUCKET`, `REGION`, ...) to the variables' values.
 * Returns the location, or the issues, each naming its variable (never a secret's value).
 */
export function parseStorageLocation(
  name: string,
  raw: Record<string, string>,
): { location: StorageLocation } | { issues: ConfigIssue[] } {
  const envPrefix = `STORAGE_${name.toUpperCase()}_`;
  const parsed = z.safeParse(optionsSchema, raw);
  if (!parsed.success) {
    return {
      issues: parsed.error.issues.map((issue) => ({
        variable: `${envPrefix}${String(issue.path[0] ?? '')}`,
        message: issue.message,
      })),
    };
  }
  const issues: ConfigIssue[] = [];
  const location = buildLocation(name, envPrefix, parsed.data, issues);
  return issues.length > 0 || !location ? { issues } : { location };
}

function buildLocation(name: string, envPrefix: string, o: Options, issues: ConfigIssue[]): StorageLocation | undefined {
  const issue = (option: string, message: string) => issues.push({ variable: envPrefix + option, message });

  const target = resolveEndpoint(o.ENDPOINT, o.REGION);
  if ('error' in target) {
    issue('ENDPOINT', target.error);
    return undefined;
  }

  let credentials: StorageLocation['credentials'];
  if (o.KEY && o.SECRET) credentials = { accessKeyId: o.KEY, secretAccessKey: o.SECRET };
  else if (o.KEY) issue('SECRET', `is required when ${envPrefix}KEY is set: the secret access key of that key`);
  else if (o.SECRET) issue('KEY', `is required when ${envPrefix}SECRET is set: the access key id`);
  else if (target.provider === 'aws') {
    issue(
      'KEY',
      `and ${envPrefix}SECRET are required for AWS S3: a Worker has no instance profile or IAM role to fall back on, so create an access key for an IAM user with access to the bucket`,
    );
  }

  const root = normaliseRoot(o.ROOT);
  if (root === undefined) issue('ROOT', 'must be a path inside the bucket without "." or ".." segments, e.g. uploads/site-a');

  if (target.provider === 'r2' && o.ACL) {
    issue('ACL', 'must not be set for Cloudflare R2: R2 has no object ACLs and answers 501 to x-amz-acl');
  }
  if (o.SERVER_SIDE_ENCRYPTION_KMS_KEY_ID && !o.SERVER_SIDE_ENCRYPTION?.startsWith('aws:kms')) {
    issue('SERVER_SIDE_ENCRYPTION_KMS_KEY_ID', `needs ${envPrefix}SERVER_SIDE_ENCRYPTION set to aws:kms or aws:kms:dsse`);
  }
  if (issues.length > 0 || root === undefined) return undefined;

  return {
    name,
    envPrefix,
    driver: o.DRIVER,
    provider: target.provider,
    bucket: o.BUCKET,
    ...(credentials ? { credentials } : {}),
    region: target.region,
    root,
    endpoint: target.endpoint,
    pathStyle: o.FORCE_PATH_STYLE || !virtualHostable(o.BUCKET, target.endpoint),
    ...(o.ACL ? { acl: o.ACL } : {}),
    ...(o.SERVER_SIDE_ENCRYPTION ? { serverSideEncryption: o.SERVER_SIDE_ENCRYPTION } : {}),
    ...(o.SERVER_SIDE_ENCRYPTION_KMS_KEY_ID ? { serverSideEncryptionKmsKeyId: o.SERVER_SIDE_ENCRYPTION_KMS_KEY_ID } : {}),
    connectionTimeoutMs: o.CONNECTION_TIMEOUT,
    socketTimeoutMs: o.SOCKET_TIMEOUT,
    maxSockets: o.MAX_SOCKETS,
    keepAlive: o.KEEP_ALIVE,
    tusChunkSize: o.TUS__CHUNK_SIZE,
    uploadPartCopy: o.UPLOAD_PART_COPY,
  };
}

/**
 * Works out the provider, the signing region and the endpoint. An explicit REGION always wins;
 * otherwise the region is read from the provider's host naming (R2 signs with `auto`), so the
 * documented provider examples work without a REGION and never sign with a region the store rejects.
 */
function resolveEndpoint(
  endpoint: string | undefined,
  region: string | undefined,
): { provider: Provider; region: string; endpoint: URL } | { error: string } {
  if (endpoint === undefined) {
    const r = region ?? 'us-east-1';
    return { provider: 'aws', region: r, endpoint: new URL(`https://s3.${r}.amazonaws.com`) };
  }
  const url = new URL(endpoint);
  if (url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
    return { error: 'must be the bare service URL (scheme, host and optional port), without a path, query or credentials' };
  }
  const host = url.hostname.toLowerCase();
  const aws = /^s3[.-](?:dualstack\.)?([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/.exec(host);
  if (aws || host === 's3.amazonaws.com') {
    return { provider: 'aws', region: region ?? aws?.[1] ?? 'us-east-1', endpoint: url };
  }
  if (host.endsWith('.r2.cloudflarestorage.com')) return { provider: 'r2', region: region ?? 'auto', endpoint: url };
  const spaces = /^([a-z0-9-]+)\.digitaloceanspaces\.com$/.exec(host);
  if (spaces?.[1]) return { provider: 'spaces', region: region ?? spaces[1], endpoint: url };
  const b2 = /^s3\.([a-z0-9-]+)\.backblazeb2\.com$/.exec(host);
  if (b2?.[1]) return { provider: 'b2', region: region ?? b2[1], endpoint: url };
  return { provider: 'custom', region: region ?? 'us-east-1', endpoint: url };
}

/**
 * Virtual-hosted addressing needs a DNS name for `<bucket>.<host>`: impossible for IP literals and
 * `localhost`, and TLS certificates do not cover bucket names with dots. Such cases use path style,
 * as the AWS SDKs do.
 */
function virtualHostable(bucket: string, endpoint: URL): boolean {
  const host = endpoint.hostname;
  if (host === 'localhost' || /^\d+\.\d+\.\d+\.\d+$/.test(host) || host.startsWith('[')) return false;
  if (!/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(bucket)) return false;
  return true;
}

/** `/a//b/` → `a/b`; `undefined` for `.` or `..` segments, which would escape or alias the prefix. */
export function normaliseRoot(root: string): string | undefined {
  const segments = root.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '.' || s === '..' || s.includes('\\'))) return undefined;
  return segments.join('/');
}
