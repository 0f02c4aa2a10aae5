import ipaddr from 'ipaddr.js';
import * as z from 'zod/mini';
import type { ConfigIssue } from './storage-location';

/** Settings that are not per storage location (Directus names where Directus has one). */
export interface GlobalSettings {
  /** Bearer token with full access; unset means the protected routes refuse every request. */
  adminToken: string | undefined;
  admin: {
    /**
     * The file library page sends files of at least this many bytes straight to the bucket
     * (ADMIN_DIRECT_UPLOAD_MIN_SIZE), the rest over TUS; undefined: every file over TUS.
     */
    directUploadMinSize: number | undefined;
  };
  files: {
    /** Bytes; undefined for no limit of ours (the platform's request-size cap still applies). */
    maxUploadSize: number | undefined;
    importTimeoutMs: number;
    /** Extra addresses, CIDR ranges or host names refused by `/files/import`. */
    importDenyList: string[];
    /** Addresses and CIDR ranges opened to imports and webhooks despite their range (the deny list still wins). */
    importAllowList: string[];
    /** Globs the sniffed type must match (`image/*`, `application/pdf`). */
    mimeTypeAllowList: string[];
    /** Metadata tags kept in `metadata`, or `'*'` for every readable one. */
    metadataAllowList: string[] | '*';
    /** `access` of a new file unless the upload says otherwise. */
    defaultAccess: 'public' | 'private';
    /** How long a presigned part URL of a direct-to-bucket upload works (FILES_DIRECT_URL_EXPIRES), seconds. */
    directUrlExpiresS: number;
    /** A direct upload up to this size gets its checksum right after completion (FILES_DIRECT_CHECKSUM_MAX); larger ones in the sweep. */
    directChecksumMax: number;
  };
  tus: {
    /** Tus-Max-Size: the largest upload accepted. */
    maxSize: number;
    /** An upload idle this long expires (sliding from its last PATCH). */
    expirationMs: number;
  };
  assets: {
    /** Output width/height limit for transforms (ASSETS_TRANSFORM_IMAGE_MAX_DIMENSION). */
    maxDimension: number;
    /** Pixels (w×h) a transform may decode, and may make (ASSETS_TRANSFORM_MAX_PIXELS). */
    maxPixels: number;
    /** Who makes derivatives (ASSETS_TRANSFORM_ENGINE): the WASM engine, or Cloudflare Images through the IMAGES binding. */
    engine: 'wasm' | 'images';
    /** Operations one `transforms` list may hold (ASSETS_TRANSFORM_MAX_OPERATIONS, as Directus). */
    maxOperations: number;
    /** Passes over ASSETS_TRANSFORM_MAX_PIXELS that one transform's operations may cost together (ASSETS_TRANSFORM_MAX_PASSES). */
    maxPasses: number;
    /** Ad-hoc derivatives one file's bytes may collect (ASSETS_TRANSFORM_MAX_VARIANTS); presets do not count. */
    maxVariants: number;
    public: boolean;
    /** HMAC keys for signed asset URLs: the first signs, all verify (rotation without downtime). */
    signingKeys: string[];
    /** Ad-hoc transforms of public files need a signature too (presets do not). */
    signedTransforms: boolean;
    cacheTtlSeconds: number;
    contentSecurityPolicy: string;
  };
  edge: {
    /** Originals up to this many bytes are kept in the edge cache too (ASSETS_EDGE_CACHE_MAX_SIZE; 0: none). */
    originalMaxSize: number;
    /** An edge entry older than this is checked against its record before it is served again. */
    revalidateMs: number;
    /** Cloudflare's purge API, when both are set: a change is purged everywhere at once, by Cache-Tag. */
    purge: { zoneId: string; apiToken: string } | undefined;
  };
  sweep: {
    /** Objects and multipart uploads younger than this are never swept (STORAGE_SWEEP_GRACE). */
    graceMs: number;
    /** Bytes of stored files one sweep run hashes for checksums still missing (STORAGE_SWEEP_CHECKSUM_BYTES). */
    checksumBytes: number;
  };
  /** Where embeds (YouTube and Vimeo URLs given to /files/import) learn their title, thumbnail and duration. */
  embeds: {
    youtubeOembedUrl: string;
    vimeoOembedUrl: string;
    /** The YouTube Data API's videos endpoint, asked for the duration when `youtubeApiKey` is set. */
    youtubeApiUrl: string;
    /** YOUTUBE_API_KEY, a secret: sent in a header, never in a URL, an answer or a log line. */
    youtubeApiKey: string | undefined;
  };
  log: {
    /** Share of edge-cache hits that get a request line (LOG_SAMPLE_RATE); every other request gets one. */
    sampleRate: number;
  };
  cors: {
    enabled: boolean;
    /** `true` reflects the request's origin; a list allows those origins; `false` none. */
    origin: boolean | string[];
    methods: string[];
    allowedHeaders: string[];
    exposedHeaders: string[];
    credentials: boolean;
    maxAge: number;
  };
}

/**
 * The largest TUS upload: S3's largest object, 5 TiB (10,000 parts of 550 MB). Parts stream from the
 * request body to storage without being held, so the part size costs no memory.
 */
export const TUS_SIZE_CEILING = 5 * 1024 ** 4;

/**
 * A full photon decode and resize costs about 24 bytes a decoded pixel: `npm run bench` measured
 * workerd growing by ~296 MB for a 4032×3024 JPEG resized to 3000 px. 4 MP (~96 MB) stays inside the
 * isolate's 128 MB. Baseline JPEGs mostly avoid full decodes (shrink-on-load), so this limit bites
 * on large PNG, WebP, GIF and progressive JPEG sources, and on near-full-size JPEG outputs.
 */
export const DEFAULT_MAX_PIXELS = 4_000_000;
/** ASSETS_TRANSFORM_MAX_PASSES's default: one sharpen with a sigma at the largest output, five on 0.9 MP (~1–1.5 s). */
export const DEFAULT_MAX_PASSES = 16;

const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };
const DURATIONS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31557600 };

/** `10485760`, `10mb`, `1.5 GB` → bytes (the `bytes` package's format, which Directus uses). */
const byteSize = z.pipe(
  z.string().check(z.regex(/^\s*\d+(\.\d+)?\s*(b|kb|mb|gb|tb)?\s*$/i, { error: 'expected a size such as 104857600 or 100mb' })),
  z.transform((v: string) => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(v) as RegExpExecArray;
    return Math.floor(Number(m[1]) * (UNITS[(m[2] || 'b').toLowerCase()] ?? 1));
  }),
);

/** `2592000` (seconds), `30d`, `12h`, `10m`, `45s` → seconds (the `ms` package's format, which Directus uses). */
const duration = z.pipe(
  z.string().check(z.regex(/^\s*\d+\s*(ms|s|m|h|d|w|y)?\s*$/i, { error: 'expected seconds or a duration such as 30d, 12h, 10m' })),
  z.transform((v: string) => {
    const m = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(v) as RegExpExecArray;
    return Math.floor(Number(m[1]) * (DURATIONS[(m[2] || 's').toLowerCase()] ?? 1));
  }),
);

const list = z.pipe(
  z.string(),
  z.transform((v: string) => v.split(',').map((s) => s.trim()).filter((s) => s !== '')),
);
const bool = z.stringbool({ error: 'expected true or false' });
const milliseconds = z.pipe(
  z.string().check(z.regex(/^\d+$/, { error: 'expected a whole number of milliseconds' })),
  z.transform(Number),
);

const httpUrl = z.string().check(z.regex(/^https?:\/\/[^\s/?#]+[^\s]*$/, { error: 'expected an http:// or https:// URL' }));

function isAddressOrRange(entry: string): boolean {
  try {
    if (entry.includes('/')) ipaddr.parseCIDR(entry);
    else ipaddr.parse(entry);
    return true;
  } catch {
    return false;
  }
}

const schema = z.object({
  ADMIN_TOKEN: z.optional(z.string().check(z.minLength(16, { error: 'must be at least 16 characters long' }))),
  // Off unless set: the bucket needs a CORS rule for the page's origin first (README, Direct-to-bucket uploads).
  ADMIN_DIRECT_UPLOAD_MIN_SIZE: z.optional(z.pipe(byteSize, z.number().check(z.minimum(1, { error: 'must be at least 1 byte (leave it unset to upload every file over TUS)' })))),
  FILES_MAX_UPLOAD_SIZE: z.optional(byteSize),
  FILES_IMPORT_TIMEOUT: z._default(milliseconds, 30000),
  IMPORT_IP_DENY_LIST: z._default(list, ['0.0.0.0', '169.254.169.254']),
  IMPORT_IP_ALLOW_LIST: z._default(
    z.pipe(list, z.array(z.string().check(z.refine(isAddressOrRange, { error: 'expected comma-separated IP addresses or CIDR ranges such as 127.0.0.1/32,fd00::/8 (names are not resolved, so they cannot be allowed)' })))),
    [],
  ),
  FILES_MIME_TYPE_ALLOW_LIST: z._default(
    z.pipe(list, z.array(z.string().check(z.regex(/^(\*|[\w.+-]+)\/(\*|[\w.+-]+)$/, { error: 'expected comma-separated type globs such as image/*,application/pdf' })))),
    ['*/*'],
  ),
  FILE_METADATA_ALLOW_LIST: z._default(list, ['Make', 'Model', 'FNumber', 'ExposureTime', 'FocalLength', 'ISOSpeedRatings', 'DateTimeOriginal', 'Orientation']),
  TUS_MAX_SIZE: z.optional(byteSize),
  TUS_UPLOAD_EXPIRATION: z._default(duration, 24 * 3600),
  // S3 takes presigned URLs of 1 s to 7 days.
  FILES_DIRECT_URL_EXPIRES: z._default(z.pipe(duration, z.number().check(z.minimum(1, { error: 'must be at least 1s' }), z.maximum(7 * 24 * 3600, { error: 'must be at most 7d (S3 presigned URLs last at most a week)' }))), 3600),
  ASSETS_PUBLIC: z._default(bool, true),
  FILES_DEFAULT_ACCESS: z.optional(z.enum(['public', 'private'], { error: 'expected public or private' })),
  ASSETS_SIGNING_KEY: z._default(
    z.pipe(list, z.array(z.string().check(z.minLength(32, { error: 'each key must be at least 32 characters (comma-separated for rotation)' })))),
    [],
  ),
  ASSETS_SIGNED_TRANSFORMS: z._default(bool, false),
  ASSETS_TRANSFORM_IMAGE_MAX_DIMENSION: z._default(z.pipe(z.string().check(z.regex(/^[1-9]\d*$/, { error: 'expected a positive whole number of pixels' })), z.transform(Number)), 6000),
  ASSETS_TRANSFORM_MAX_PIXELS: z._default(z.pipe(z.string().check(z.regex(/^[1-9]\d*$/, { error: 'expected a positive whole number of pixels' })), z.transform(Number)), DEFAULT_MAX_PIXELS),
  ASSETS_TRANSFORM_ENGINE: z._default(z.enum(['wasm', 'images'], { error: 'expected wasm or images' }), 'wasm'),
  ASSETS_TRANSFORM_MAX_OPERATIONS: z._default(z.pipe(z.string().check(z.regex(/^[1-9]\d{0,1}$/, { error: 'expected a whole number from 1 to 99' })), z.transform(Number)), 5),
  ASSETS_TRANSFORM_MAX_PASSES: z._default(z.pipe(z.string().check(z.regex(/^[1-9]\d{0,2}$/, { error: 'expected a whole number from 1 to 999' })), z.transform(Number)), DEFAULT_MAX_PASSES),
  ASSETS_TRANSFORM_MAX_VARIANTS: z._default(z.pipe(z.string().check(z.regex(/^[1-9]\d{0,6}$/, { error: 'expected a positive whole number' })), z.transform(Number)), 100),
  ASSETS_CACHE_TTL: z._default(duration, 30 * 86400),
  ASSETS_CONTENT_SECURITY_POLICY: z._default(
    z.string(),
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox",
  ),
  STORAGE_SWEEP_GRACE: z._default(duration, 3600),
  STORAGE_SWEEP_CHECKSUM_BYTES: z._default(z.pipe(byteSize, z.number().check(z.minimum(64, { error: 'must be at least 64 bytes' }))), 1024 ** 3),
  // waitUntil may outlive the answer by 30 s: at ~17 s a GiB read from the store, 1 GiB fits.
  FILES_DIRECT_CHECKSUM_MAX: z._default(byteSize, 1024 ** 3),
  ASSETS_EDGE_CACHE_MAX_SIZE: z._default(byteSize, 32 * 1024 * 1024),
  ASSETS_EDGE_REVALIDATE: z._default(duration, 60),
  CLOUDFLARE_ZONE_ID: z.optional(z.string().check(z.regex(/^[0-9a-f]{32}$/, { error: 'expected the 32-hex-digit zone id from the dashboard' }))),
  CLOUDFLARE_API_TOKEN: z.optional(z.string().check(z.minLength(20, { error: 'expected an API token with the Cache Purge permission' }))),
  YOUTUBE_OEMBED_URL: z._default(httpUrl, 'https://www.youtube.com/oembed'),
  VIMEO_OEMBED_URL: z._default(httpUrl, 'https://vimeo.com/api/oembed.json'),
  YOUTUBE_API_URL: z._default(httpUrl, 'https://www.googleapis.com/youtube/v3/videos'),
  YOUTUBE_API_KEY: z.optional(z.string().check(z.regex(/^[\w-]{20,100}$/, { error: 'expected an API key from the Google Cloud console (letters, digits, - and _)' }))),
  LOG_SAMPLE_RATE: z._default(
    z.pipe(z.string().check(z.regex(/^(0(\.\d+)?|1(\.0+)?)$/, { error: 'expected a share from 0 to 1, such as 0.01' })), z.transform(Number)),
    0.01,
  ),
  CORS_ENABLED: z._default(bool, false),
  CORS_ORIGIN: z._default(
    z.string().check(
      z.regex(/^\s*(true|\*|false|)\s*$|^\s*https?:\/\/[^\s,/]+(\s*,\s*https?:\/\/[^\s,/]+)*\s*$/i, {
        error: 'expected true, false, or comma-separated origins such as https://app.example (scheme and host, no path; "null" is never allowed)',
      }),
    ),
    'false',
  ),
  CORS_METHODS: z._default(list, ['GET', 'POST', 'PATCH', 'DELETE']),
  CORS_ALLOWED_HEADERS: z._default(list, ['Content-Type', 'Authorization']),
  CORS_EXPOSED_HEADERS: z._default(list, ['Content-Range']),
  CORS_CREDENTIALS: z._default(bool, true),
  CORS_MAX_AGE: z._default(z.pipe(z.string().check(z.regex(/^\d+$/, { error: 'expected seconds' })), z.transform(Number)), 18000),
});

export function parseGlobals(vars: Record<string, string>): { settings: GlobalSettings } | { issues: ConfigIssue[] } {
  const known: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) if (vars[key] !== undefined) known[key] = vars[key] as string;
  const parsed = z.safeParse(schema, known);
  if (!parsed.success) {
    return { issues: parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? ''), message: i.message })) };
  }
  const v = parsed.data;
  const origin = v.CORS_ORIGIN.trim();
  return {
    settings: {
      adminToken: v.ADMIN_TOKEN,
      admin: { directUploadMinSize: v.ADMIN_DIRECT_UPLOAD_MIN_SIZE },
      files: {
        maxUploadSize: v.FILES_MAX_UPLOAD_SIZE,
        importTimeoutMs: v.FILES_IMPORT_TIMEOUT,
        importDenyList: v.IMPORT_IP_DENY_LIST,
        importAllowList: v.IMPORT_IP_ALLOW_LIST,
        mimeTypeAllowList: v.FILES_MIME_TYPE_ALLOW_LIST,
        metadataAllowList: v.FILE_METADATA_ALLOW_LIST.includes('*') ? '*' : v.FILE_METADATA_ALLOW_LIST,
        defaultAccess: v.FILES_DEFAULT_ACCESS ?? (v.ASSETS_PUBLIC ? 'public' : 'private'),
        directUrlExpiresS: v.FILES_DIRECT_URL_EXPIRES,
        directChecksumMax: v.FILES_DIRECT_CHECKSUM_MAX,
      },
      tus: {
        maxSize: Math.min(v.TUS_MAX_SIZE ?? Number.MAX_SAFE_INTEGER, v.FILES_MAX_UPLOAD_SIZE ?? Number.MAX_SAFE_INTEGER, TUS_SIZE_CEILING),
        expirationMs: v.TUS_UPLOAD_EXPIRATION * 1000,
      },
      assets: {
        maxDimension: v.ASSETS_TRANSFORM_IMAGE_MAX_DIMENSION,
        maxPixels: v.ASSETS_TRANSFORM_MAX_PIXELS,
        engine: v.ASSETS_TRANSFORM_ENGINE,
        maxOperations: v.ASSETS_TRANSFORM_MAX_OPERATIONS,
        maxPasses: v.ASSETS_TRANSFORM_MAX_PASSES,
        maxVariants: v.ASSETS_TRANSFORM_MAX_VARIANTS,
        public: v.ASSETS_PUBLIC,
        signingKeys: v.ASSETS_SIGNING_KEY,
        signedTransforms: v.ASSETS_SIGNED_TRANSFORMS, cacheTtlSeconds: v.ASSETS_CACHE_TTL, contentSecurityPolicy: v.ASSETS_CONTENT_SECURITY_POLICY },
      sweep: { graceMs: v.STORAGE_SWEEP_GRACE * 1000, checksumBytes: v.STORAGE_SWEEP_CHECKSUM_BYTES },
      edge: {
        originalMaxSize: v.ASSETS_EDGE_CACHE_MAX_SIZE,
        revalidateMs: v.ASSETS_EDGE_REVALIDATE * 1000,
        purge: v.CLOUDFLARE_ZONE_ID && v.CLOUDFLARE_API_TOKEN ? { zoneId: v.CLOUDFLARE_ZONE_ID, apiToken: v.CLOUDFLARE_API_TOKEN } : undefined,
      },
      embeds: { youtubeOembedUrl: v.YOUTUBE_OEMBED_URL, vimeoOembedUrl: v.VIMEO_OEMBED_URL, youtubeApiUrl: v.YOUTUBE_API_URL, youtubeApiKey: v.YOUTUBE_API_KEY },
      log: { sampleRate: v.LOG_SAMPLE_RATE },
      cors: {
        enabled: v.CORS_ENABLED,
        origin: origin === 'true' || origin === '*' ? true : origin === 'false' || origin === '' ? false : origin.split(',').map((o) => o.trim()),
        methods: v.CORS_METHODS,
        allowedHeaders: v.CORS_ALLOWED_HEADERS,
        exposedHeaders: v.CORS_EXPOSED_HEADERS,
        credentials: v.CORS_CREDENTIALS,
        maxAge: v.CORS_MAX_AGE,
      },
    },
  };
}
