import type { StorageLocation } from '../config';
import { AppError } from '../errors/app-error';
import { log } from '../lib/log';
import { text } from './xml';

/**
 * Turns an S3 error response into a typed AppError whose message says what to check. The S3
 * `<Message>` is not echoed: some stores put the canonical request in it, and it adds nothing the
 * hint does not say better. Bodies of HEAD responses are empty, so the status alone must suffice.
 * A message reaches API clients (and the public health check): it names the storage location and
 * the variable to check, never the bucket, endpoint, root or a key. A misconfiguration is logged
 * with the bucket and endpoint for the operator (`configLog`).
 */
export function s3Error(location: StorageLocation, operation: string, response: Response, body: string): AppError {
  // A code is a word (S3's are); anything else a store puts there is not repeated to the client.
  const given = text(body, 'Code');
  const code = given === undefined ? statusCode(response.status, operation) : /^[A-Za-z0-9.]{1,64}$/.test(given) ? given : `HTTP${response.status}`;
  const where = `storage location "${location.name}"`;
  const p = location.envPrefix;
  const extensions = { storage: location.name, s3Code: code, operation };
  const err = (c: ConstructorParameters<typeof AppError>[0], message: string) => {
    if (MISCONFIGURED.has(c)) configLog(location, operation, code);
    return new AppError(c, message, { extensions });
  };

  switch (code) {
    case 'AccessDenied':
    case 'InvalidAccessKeyId':
    case 'AllAccessDisabled':
    case 'Forbidden':
      return err('STORAGE_ACCESS_DENIED', `${operation}: ${where} denied access (${code}). Check ${p}KEY and ${p}SECRET, and that the key's policy allows ${p}BUCKET.`);
    case 'SignatureDoesNotMatch':
      return err('STORAGE_SIGNATURE_MISMATCH', `${operation}: ${where} rejected the request signature. Check ${p}SECRET, and that this machine's clock is correct.`);
    case 'RequestTimeTooSkewed':
      return err('STORAGE_SIGNATURE_MISMATCH', `${operation}: ${where} says this machine's clock is off by too much to sign requests.`);
    case 'NoSuchBucket':
      return err('STORAGE_BUCKET_NOT_FOUND', `${operation}: the bucket of ${where} does not exist. Check ${p}BUCKET and ${p}ENDPOINT.`);
    case 'NoSuchKey':
    case 'NotFound':
      return err('STORAGE_OBJECT_NOT_FOUND', `${operation}: the object does not exist in ${where}.`);
    case 'NoSuchUpload':
      return err('STORAGE_OBJECT_NOT_FOUND', `${operation}: the multipart upload no longer exists in ${where}.`);
    case 'PermanentRedirect':
    case 'AuthorizationHeaderMalformed':
    case 'IllegalLocationConstraintException': {
      const expected = text(body, 'Region') ?? response.headers.get('x-amz-bucket-region');
      const hint = expected ? `set ${p}REGION to "${expected}"` : `check ${p}REGION and ${p}ENDPOINT`;
      return err('STORAGE_WRONG_REGION', `${operation}: ${where} is not in region "${location.region}": ${hint}.`);
    }
    case 'SlowDown':
    case 'ServiceUnavailable':
    case 'InternalError':
      return unavailable(`${operation}: ${where} is unavailable (${code}) after ${MAX_ATTEMPTS_TEXT}; try again later.`, extensions);
    default:
      if (response.status >= 500 || response.status === 429) {
        return unavailable(`${operation}: ${where} answered ${response.status} ${code} after ${MAX_ATTEMPTS_TEXT}; try again later.`, extensions);
      }
      return err('STORAGE_ERROR', `${operation}: ${where} answered ${response.status} ${code}.`);
  }
}

/** The failures an operator fixes in the configuration: worth a log line with the details. */
const MISCONFIGURED = new Set<ConstructorParameters<typeof AppError>[0]>(['STORAGE_ACCESS_DENIED', 'STORAGE_SIGNATURE_MISMATCH', 'STORAGE_BUCKET_NOT_FOUND', 'STORAGE_WRONG_REGION']);

/** What the client's message leaves out, for the operator's log: never the key or the secret. */
function configLog(location: StorageLocation, operation: string, reason: string): void {
  log('warn', 'storage misconfigured', { storage: location.name, operation, reason, bucket: location.bucket, endpoint: location.endpoint.origin });
}

/** How many times a repeatable storage request is tried before its failure is reported. */
export const MAX_ATTEMPTS = 4;
const MAX_ATTEMPTS_TEXT = `${MAX_ATTEMPTS} attempts`;

/** The store is failing for now (5xx, SlowDown, bodies cut): 503 with Retry-After. */
export function unavailable(message: string, extensions: Record<string, unknown>): AppError {
  return new AppError('STORAGE_UNAVAILABLE', message, { extensions });
}

/** HEAD answers carry no body: the status (and for a bucket-level HEAD, the operation) must tell. */
function statusCode(status: number, operation: string): string {
  if (status === 301) return 'PermanentRedirect';
  if (status === 404 && operation === 'HeadBucket') return 'NoSuchBucket';
  if (status === 403) return 'AccessDenied';
  if (status === 404) return 'NotFound';
  if (status === 503) return 'SlowDown';
  return `HTTP${status}`;
}

export function timeoutError(location: StorageLocation, operation: string, ms: number, variable: string): AppError {
  return new AppError(
    'STORAGE_TIMEOUT',
    `${operation}: storage location "${location.name}" did not answer within ${ms} ms (${location.envPrefix}${variable}).`,
    { extensions: { storage: location.name, operation } },
  );
}

export function unreachableError(location: StorageLocation, operation: string, cause: unknown): AppError {
  configLog(location, operation, cause instanceof Error ? cause.message : String(cause));
  return new AppError(
    'STORAGE_UNREACHABLE',
    `${operation}: could not reach storage location "${location.name}". Check ${location.envPrefix}ENDPOINT.`,
    { cause, extensions: { storage: location.name, operation } },
  );
}
