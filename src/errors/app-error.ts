/**
 * The one error type of the service. Every failure that reaches a client is an AppError with a code
 * from this closed set; `onError` turns it into Directus's envelope
 * `{ "errors": [ { "message", "extensions": { "code" } } ] }` with the status the code maps to.
 */
export const ERROR_STATUS = {
  INVALID_CONFIG: 500,
  INVALID_PAYLOAD: 400,
  INVALID_QUERY: 400,
  INVALID_CREDENTIALS: 401,
  TOKEN_EXPIRED: 401,
  FORBIDDEN: 403,
  INVALID_SIGNATURE: 403,
  SIGNATURE_EXPIRED: 410,
  ILLEGAL_ASSET_TRANSFORMATION: 403,
  ROUTE_NOT_FOUND: 404,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONTENT_TOO_LARGE: 413,
  /** The request clashes with the record as it now is (a storage key in use, a change meanwhile). */
  CONFLICT: 409,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RANGE_NOT_SATISFIABLE: 416,
  /** The image cannot be transformed: not decodable, or too large to decode at the edge. */
  UNPROCESSABLE_IMAGE: 422,
  // TUS 1.0.0 statuses.
  UPLOAD_CONFLICT: 409,
  UPLOAD_GONE: 410,
  TUS_VERSION_UNSUPPORTED: 412,
  UPLOAD_LOCKED: 423,
  CHECKSUM_MISMATCH: 460,
  SERVICE_UNAVAILABLE: 503,
  // Storage failures: the store answered with an error we cannot fix on this side (502), is failing
  // for now after our retries (503, with Retry-After) or did not answer in time (504). Each carries
  // a hint naming the variable to check or saying to try again.
  STORAGE_ACCESS_DENIED: 502,
  STORAGE_SIGNATURE_MISMATCH: 502,
  STORAGE_BUCKET_NOT_FOUND: 502,
  STORAGE_WRONG_REGION: 502,
  STORAGE_OBJECT_NOT_FOUND: 502,
  STORAGE_UNREACHABLE: 502,
  STORAGE_UNAVAILABLE: 503,
  STORAGE_ERROR: 502,
  STORAGE_TIMEOUT: 504,
  // An import's source (the URL, or an embed's provider) could not be reached or failed (502), or did
  // not answer in time (504): the message names the host and what happened, never the whole URL.
  SOURCE_UNAVAILABLE: 502,
  SOURCE_TIMEOUT: 504,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/**
 * Failures that pass: the client is told when to come back, whichever path the error took (a
 * Durable Object's answer, a re-worded storage error). A second is what a SlowDown usually needs.
 */
const TRANSIENT = new Set<ErrorCode>(['SERVICE_UNAVAILABLE', 'STORAGE_UNAVAILABLE', 'STORAGE_UNREACHABLE', 'STORAGE_TIMEOUT']);
const RETRY_AFTER = { 'Retry-After': '1' };

/** A failure that passes (storage down or slow): worth trying again later, unlike the others. */
export const isTransient = (error: unknown): boolean => error instanceof AppError && TRANSIENT.has(error.code);

export class AppError extends Error {
  readonly code: ErrorCode;
  /** Extra, client-safe fields for `extensions` (never secrets). */
  readonly extensions: Record<string, unknown>;
  /** Response headers the status calls for (`Content-Range` on a 416, `WWW-Authenticate` on a 401). */
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; extensions?: Record<string, unknown>; headers?: Record<string, string> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.extensions = options?.extensions ?? {};
    this.headers = { ...(TRANSIENT.has(code) ? RETRY_AFTER : {}), ...options?.headers };
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
