import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../src/config';
import { AppError } from '../src/errors/app-error';
import { S3Client } from '../src/storage/s3-client';

const KEY = 'AKIAEXAMPLEKEY';
const SECRET = 'super-secret-value-never-shown';

/** Parses, and returns the AppError's issues when parsing fails. */
function issuesOf(env: Record<string, unknown>): { variable: string; message: string }[] {
  try {
    parseConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    const e = error as AppError;
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.status).toBe(500);
    expect(e.message).not.toContain(SECRET);
    return e.extensions.issues as { variable: string; message: string }[];
  }
  throw new Error('expected the config to be refused');
}

/**
 * What the client sends for a PutObject with this config: the signed request is captured at
 * `fetch`, so the test sees exactly the URL, the headers and the SigV4 scope.
 */
async function capturePut(env: Record<string, unknown>, key = 'folder/photo.jpg'): Promise<Request> {
  const config = parseConfig(env);
  let seen: Request | undefined;
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    seen = new Request(input as RequestInfo, init);
    return new Response(null, { status: 200, headers: { etag: '"x"' } });
  });
  await new S3Client(config.defaultLocation).putObject(key, new Uint8Array([1, 2, 3]));
  if (!seen) throw new Error('no request sent');
  return seen;
}

const scope = (req: Request) => /Credential=[^/]+\/\d{8}\/([^/]+)\/s3\/aws4_request/.exec(req.headers.get('authorization') ?? '')?.[1];

afterEach(() => vi.restoreAllMocks());

describe('provider examples', () => {
  it('AWS S3: virtual-hosted, signing with the configured region', async () => {
    const req = await capturePut({
      STORAGE_LOCATIONS: 's3',
      STORAGE_S3_DRIVER: 's3',
      STORAGE_S3_KEY: KEY,
      STORAGE_S3_SECRET: SECRET,
      STORAGE_S3_BUCKET: 'my-bucket',
      STORAGE_S3_REGION: 'eu-west-3',
    });
    expect(req.url).toBe('https://my-bucket.s3.eu-west-3.amazonaws.com/folder/photo.jpg');
    expect(scope(req)).toBe('eu-west-3');
    expect(req.headers.get('x-amz-acl')).toBeNull();
    expect(req.headers.get('x-amz-server-side-encryption')).toBeNull();
    expect(req.headers.get('x-amz-content-sha256')).toBe('UNSIGNED-PAYLOAD');
    expect([...req.headers.keys()].filter((h) => h.startsWith('x-amz-checksum') || h === 'x-amz-sdk-checksum-algorithm')).toEqual([]);
  });

  it('AWS S3 without a region signs for us-east-1', async () => {
    const req = await capturePut({ STORAGE_LOCATIONS: 's3', STORAGE_S3_KEY: KEY, STORAGE_S3_SECRET: SECRET, STORAGE_S3_BUCKET: 'b-1' });
    expect(req.url).toBe('https://b-1.s3.us-east-1.amazonaws.com/folder/photo.jpg');
    expect(scope(req)).toBe('us-east-1');
  });

  it('AWS S3 with a root prefix, normalised', async () => {
    const env = {
      STORAGE_LOCATIONS: 's3',
      STORAGE_S3_KEY: KEY,
      STORAGE_S3_SECRET: SECRET,
      STORAGE_S3_BUCKET: 'my-bucket',
      STORAGE_S3_REGION: 'us-east-2',
      STORAGE_S3_ROOT: '/site-a//uploads/',
    };
    expect(parseConfig(env).defaultLocation.root).toBe('site-a/uploads');
    const req = await capturePut(env);
    expect(req.url).toBe('https://my-bucket.s3.us-east-2.amazonaws.com/site-a/uploads/folder/photo.jpg');
  });

  it('AWS S3 with server-side encryption (AES256) and an ACL', async () => {
    const req = await capturePut({
      STORAGE_LOCATIONS: 's3',
      STORAGE_S3_KEY: KEY,
      STORAGE_S3_SECRET: SECRET,
      STORAGE_S3_BUCKET: 'my-bucket',
      STORAGE_S3_SERVER_SIDE_ENCRYPTION: 'AES256',
      STORAGE_S3_ACL: 'public-read',
    });
    expect(req.headers.get('x-amz-server-side-encryption')).toBe('AES256');
    expect(req.headers.get('x-amz-acl')).toBe('public-read');
    expect(req.headers.get('authorization')).toMatch(/SignedHeaders=[^,]*x-amz-acl[^,]*x-amz-server-side-encryption/);
  });

  it('AWS S3 with KMS and a key id', async () => {
    const req = await capturePut({
      STORAGE_LOCATIONS: 's3',
      STORAGE_S3_KEY: KEY,
      STORAGE_S3_SECRET: SECRET,
      STORAGE_S3_BUCKET: 'my-bucket',
      STORAGE_S3_SERVER_SIDE_ENCRYPTION: 'aws:kms',
      STORAGE_S3_SERVER_SIDE_ENCRYPTION_KMS_KEY_ID: 'arn:aws:kms:us-east-1:111122223333:key/abc',
    });
    expect(req.headers.get('x-amz-server-side-encryption')).toBe('aws:kms');
    expect(req.headers.get('x-amz-server-side-encryption-aws-kms-key-id')).toBe('arn:aws:kms:us-east-1:111122223333:key/abc');
  });

  it('DigitalOcean Spaces: region read from the endpoint, virtual-hosted', async () => {
    const env = {
      STORAGE_LOCATIONS: 'spaces',
      STORAGE_SPACES_KEY: KEY,
      STORAGE_SPACES_SECRET: SECRET,
      STORAGE_SPACES_BUCKET: 'my-space',
      STORAGE_SPACES_ENDPOINT: 'https://nyc3.digitaloceanspaces.com',
    };
    expect(parseConfig(env).defaultLocation.provider).toBe('spaces');
    const req = await capturePut(env);
    expect(req.url).toBe('https://my-space.nyc3.digitaloceanspaces.com/folder/photo.jpg');
    expect(scope(req)).toBe('nyc3');
  });

  it('Cloudflare R2 with region auto', async () => {
    const env = {
      STORAGE_LOCATIONS: 'r2',
      STORAGE_R2_KEY: KEY,
      STORAGE_R2_SECRET: SECRET,
      STORAGE_R2_BUCKET: 'assets',
      STORAGE_R2_REGION: 'auto',
      STORAGE_R2_ENDPOINT: 'https://0123456789abcdef.r2.cloudflarestorage.com',
    };
    expect(parseConfig(env).defaultLocation.provider).toBe('r2');
    const req = await capturePut(env);
    expect(req.url).toBe('https://assets.0123456789abcdef.r2.cloudflarestorage.com/folder/photo.jpg');
    expect(scope(req)).toBe('auto');
    expect(req.headers.get('x-amz-acl')).toBeNull();
  });

  it('Cloudflare R2 without a region still signs with auto', async () => {
    const req = await capturePut({
      STORAGE_LOCATIONS: 'r2',
      STORAGE_R2_KEY: KEY,
      STORAGE_R2_SECRET: SECRET,
      STORAGE_R2_BUCKET: 'assets',
      STORAGE_R2_ENDPOINT: 'https://0123456789abcdef.eu.r2.cloudflarestorage.com',
    });
    expect(scope(req)).toBe('auto');
  });

  it('MinIO with path style', async () => {
    const req = await capturePut({
      STORAGE_LOCATIONS: 'minio',
      STORAGE_MINIO_KEY: 'minioadmin',
      STORAGE_MINIO_SECRET: SECRET,
      STORAGE_MINIO_BUCKET: 'directus',
      STORAGE_MINIO_ENDPOINT: 'http://minio.internal:9000',
      STORAGE_MINIO_FORCE_PATH_STYLE: 'true',
      STORAGE_MINIO_REGION: 'us-east-1',
    });
    expect(req.url).toBe('http://minio.internal:9000/directus/folder/photo.jpg');
    expect(scope(req)).toBe('us-east-1');
  });

  it('Backblaze B2: region read from the endpoint', async () => {
    const env = {
      STORAGE_LOCATIONS: 'b2',
      STORAGE_B2_KEY: KEY,
      STORAGE_B2_SECRET: SECRET,
      STORAGE_B2_BUCKET: 'my-b2-bucket',
      STORAGE_B2_ENDPOINT: 'https://s3.us-west-004.backblazeb2.com',
    };
    expect(parseConfig(env).defaultLocation.provider).toBe('b2');
    const req = await capturePut(env);
    expect(req.url).toBe('https://my-b2-bucket.s3.us-west-004.backblazeb2.com/folder/photo.jpg');
    expect(scope(req)).toBe('us-west-004');
  });

  it('an IP-address endpoint and a dotted bucket fall back to path style', async () => {
    const ip = await capturePut({
      STORAGE_LOCATIONS: 'l',
      STORAGE_L_KEY: KEY,
      STORAGE_L_SECRET: SECRET,
      STORAGE_L_BUCKET: 'b',
      STORAGE_L_ENDPOINT: 'http://127.0.0.1:9000',
    });
    expect(ip.url).toBe('http://127.0.0.1:9000/b/folder/photo.jpg');
    const dotted = await capturePut({ STORAGE_LOCATIONS: 's3', STORAGE_S3_KEY: KEY, STORAGE_S3_SECRET: SECRET, STORAGE_S3_BUCKET: 'media.example.com' });
    expect(dotted.url).toBe('https://s3.us-east-1.amazonaws.com/media.example.com/folder/photo.jpg');
  });
});

describe('options', () => {
  const base = { STORAGE_LOCATIONS: 'main,backup', STORAGE_MAIN_BUCKET: 'assets', STORAGE_MAIN_ENDPOINT: 'https://s3.example.com' };

  it('fills the documented defaults', () => {
    const l = parseConfig({ ...base, STORAGE_LOCATIONS: 'main' }).defaultLocation;
    expect(l).toMatchObject({
      name: 'main',
      driver: 's3',
      bucket: 'assets',
      region: 'us-east-1',
      root: '',
      pathStyle: false,
      connectionTimeoutMs: 5000,
      socketTimeoutMs: 120000,
      maxSockets: 500,
      keepAlive: true,
      tusChunkSize: 5 * 1024 * 1024,
      uploadPartCopy: true,
    });
    expect(l.credentials).toBeUndefined();
  });

  it('reads every option, and the first location is the default', () => {
    const config = parseConfig({
      ...base,
      STORAGE_BACKUP_DRIVER: 's3',
      STORAGE_BACKUP_BUCKET: 'b',
      STORAGE_BACKUP_KEY: KEY,
      STORAGE_BACKUP_SECRET: SECRET,
      STORAGE_BACKUP_REGION: 'eu-central-1',
      STORAGE_BACKUP_ROOT: 'x/y',
      STORAGE_BACKUP_ENDPOINT: 'https://s3.eu-central-1.amazonaws.com',
      STORAGE_BACKUP_FORCE_PATH_STYLE: 'true',
      STORAGE_BACKUP_ACL: 'private',
      STORAGE_BACKUP_SERVER_SIDE_ENCRYPTION: 'aws:kms:dsse',
      STORAGE_BACKUP_SERVER_SIDE_ENCRYPTION_KMS_KEY_ID: 'k',
      STORAGE_BACKUP_CONNECTION_TIMEOUT: 1000,
      STORAGE_BACKUP_SOCKET_TIMEOUT: '2000',
      STORAGE_BACKUP_MAX_SOCKETS: '10',
      STORAGE_BACKUP_KEEP_ALIVE: false,
      STORAGE_BACKUP_TUS__CHUNK_SIZE: String(8 * 1024 * 1024),
      STORAGE_BACKUP_UPLOAD_PART_COPY: 'false',
    });
    expect(config.defaultLocation.name).toBe('main');
    expect([...config.locations.keys()]).toEqual(['main', 'backup']);
    expect(config.locations.get('backup')).toMatchObject({
      provider: 'aws',
      bucket: 'b',
      credentials: { accessKeyId: KEY, secretAccessKey: SECRET },
      region: 'eu-central-1',
      root: 'x/y',
      pathStyle: true,
      acl: 'private',
      serverSideEncryption: 'aws:kms:dsse',
      serverSideEncryptionKmsKeyId: 'k',
      connectionTimeoutMs: 1000,
      socketTimeoutMs: 2000,
      maxSockets: 10,
      keepAlive: false,
      tusChunkSize: 8 * 1024 * 1024,
      uploadPartCopy: false,
    });
  });

  it('keeps the variables of a location whose name extends another one apart', () => {
    const config = parseConfig({ STORAGE_LOCATIONS: 's3,s3_eu', STORAGE_S3_BUCKET: 'a', STORAGE_S3_KEY: KEY, STORAGE_S3_SECRET: SECRET, STORAGE_S3_EU_BUCKET: 'b', STORAGE_S3_EU_KEY: KEY, STORAGE_S3_EU_SECRET: SECRET });
    expect(config.locations.get('s3')?.bucket).toBe('a');
    expect(config.locations.get('s3_eu')?.bucket).toBe('b');
  });
});

describe('errors name the variable and what is expected', () => {
  const ok = { STORAGE_LOCATIONS: 'main', STORAGE_MAIN_BUCKET: 'a', STORAGE_MAIN_ENDPOINT: 'https://s3.example.com' };
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    ['no locations', {}, 'STORAGE_LOCATIONS', /is required/],
    ['a bad location name', { STORAGE_LOCATIONS: 'my-loc' }, 'STORAGE_LOCATIONS', /letters, digits/],
    ['a location twice', { ...ok, STORAGE_LOCATIONS: 'main,main' }, 'STORAGE_LOCATIONS', /twice/],
    ['no bucket', { STORAGE_LOCATIONS: 'main' }, 'STORAGE_MAIN_BUCKET', /required/],
    ['an unknown driver', { ...ok, STORAGE_MAIN_DRIVER: 'gcs' }, 'STORAGE_MAIN_DRIVER', /s3/],
    ['an unknown option (a typo)', { ...ok, STORAGE_MAIN_ENDPONT: 'x' }, 'STORAGE_MAIN_ENDPONT', /not a storage option/],
    ['a key without a secret', { ...ok, STORAGE_MAIN_KEY: KEY }, 'STORAGE_MAIN_SECRET', /required when STORAGE_MAIN_KEY/],
    ['a secret without a key', { ...ok, STORAGE_MAIN_SECRET: SECRET }, 'STORAGE_MAIN_KEY', /required when STORAGE_MAIN_SECRET/],
    ['AWS without credentials', { STORAGE_LOCATIONS: 'main', STORAGE_MAIN_BUCKET: 'a' }, 'STORAGE_MAIN_KEY', /IAM role/],
    ['an endpoint that is not a URL', { ...ok, STORAGE_MAIN_ENDPOINT: 'minio:9000' }, 'STORAGE_MAIN_ENDPOINT', /http/],
    ['an ftp endpoint', { ...ok, STORAGE_MAIN_ENDPOINT: 'ftp://x' }, 'STORAGE_MAIN_ENDPOINT', /http/],
    ['an endpoint with a path', { ...ok, STORAGE_MAIN_ENDPOINT: 'https://s3.example.com/bucket' }, 'STORAGE_MAIN_ENDPOINT', /without a path/],
    ['a malformed region', { ...ok, STORAGE_MAIN_REGION: 'EU West' }, 'STORAGE_MAIN_REGION', /region/],
    ['a root escaping upwards', { ...ok, STORAGE_MAIN_ROOT: 'a/../../b' }, 'STORAGE_MAIN_ROOT', /"\.\."/],
    ['a non-boolean path style', { ...ok, STORAGE_MAIN_FORCE_PATH_STYLE: 'yes please' }, 'STORAGE_MAIN_FORCE_PATH_STYLE', /true or false/],
    ['an unknown ACL', { ...ok, STORAGE_MAIN_ACL: 'everyone' }, 'STORAGE_MAIN_ACL', /canned ACL/],
    ['an ACL on R2', { ...ok, STORAGE_MAIN_ENDPOINT: 'https://a.r2.cloudflarestorage.com', STORAGE_MAIN_ACL: 'public-read', STORAGE_MAIN_KEY: KEY, STORAGE_MAIN_SECRET: SECRET }, 'STORAGE_MAIN_ACL', /R2/],
    ['an unknown encryption', { ...ok, STORAGE_MAIN_SERVER_SIDE_ENCRYPTION: 'rot13' }, 'STORAGE_MAIN_SERVER_SIDE_ENCRYPTION', /AES256/],
    ['a KMS key without KMS', { ...ok, STORAGE_MAIN_SERVER_SIDE_ENCRYPTION_KMS_KEY_ID: 'k' }, 'STORAGE_MAIN_SERVER_SIDE_ENCRYPTION_KMS_KEY_ID', /aws:kms/],
    ['a non-numeric timeout', { ...ok, STORAGE_MAIN_CONNECTION_TIMEOUT: '5s' }, 'STORAGE_MAIN_CONNECTION_TIMEOUT', /whole number of milliseconds/],
    ['a zero socket timeout', { ...ok, STORAGE_MAIN_SOCKET_TIMEOUT: '0' }, 'STORAGE_MAIN_SOCKET_TIMEOUT', /at least 1/],
    ['a bad max sockets', { ...ok, STORAGE_MAIN_MAX_SOCKETS: '-1' }, 'STORAGE_MAIN_MAX_SOCKETS', /whole number/],
    ['a bad keep-alive', { ...ok, STORAGE_MAIN_KEEP_ALIVE: 'sometimes' }, 'STORAGE_MAIN_KEEP_ALIVE', /true or false/],
    ['a chunk size under 5 MiB', { ...ok, STORAGE_MAIN_TUS__CHUNK_SIZE: '1048576' }, 'STORAGE_MAIN_TUS__CHUNK_SIZE', /at least 5242880/],
  ];
  for (const [what, env, variable, message] of cases) {
    it(what, () => {
      const issues = issuesOf(env);
      const issue = issues.find((i) => i.variable === variable);
      expect(issue, JSON.stringify(issues)).toBeDefined();
      expect(issue?.message).toMatch(message);
    });
  }

  it('reports every problem at once and never a secret value', () => {
    const issues = issuesOf({ STORAGE_LOCATIONS: 'a,b', STORAGE_A_SECRET: SECRET, STORAGE_B_ACL: 'nope' });
    expect(issues.map((i) => i.variable).sort()).toEqual(['STORAGE_A_BUCKET', 'STORAGE_B_ACL', 'STORAGE_B_BUCKET'].sort());
    expect(JSON.stringify(issues)).not.toContain(SECRET);
  });
});
