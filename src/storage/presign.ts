import { AwsClient } from 'aws4fetch';
import { AppError } from '../errors/app-error';
import type { S3Client } from './s3-client';

/** A URL a client may use without credentials until `expires` (ms since the epoch). */
export interface PresignedUrl {
  url: string;
  expires: number;
}

/**
 * A presigned UploadPart (S3 API: UploadPart, SigV4 query-string authentication): a PUT of the part's
 * bytes to the location's endpoint, with an unsigned payload, valid for `lifetimeS` seconds. The
 * bytes never pass through the Worker. On R2 such URLs work only on the account's S3 endpoint
 * (`https://<account>.r2.cloudflarestorage.com`), never on a custom domain.
 */
export async function presignUploadPart(client: S3Client, key: string, uploadId: string, partNumber: number, lifetimeS: number, now = Date.now()): Promise<PresignedUrl> {
  const credentials = presignable(client);
  const { region } = client.location;
  const url = client.url(key, { partNumber: String(partNumber), uploadId, 'X-Amz-Expires': String(lifetimeS) });
  const signer = new AwsClient({ ...credentials, service: 's3', region, retries: 0 });
  const signed = await signer.sign(url.toString(), { method: 'PUT', aws: { signQuery: true, datetime: amzDate(now) } });
  return { url: signed.url, expires: now + lifetimeS * 1000 };
}

/** The location's credentials; a location without them cannot presign (400, said before anything is created). */
export function presignable(client: S3Client): { accessKeyId: string; secretAccessKey: string } {
  const { credentials, name } = client.location;
  if (!credentials) {
    throw new AppError('INVALID_PAYLOAD', `Storage location "${name}" has no KEY and SECRET, so it cannot presign uploads: use TUS (/files/tus) or POST /files there.`);
  }
  return credentials;
}

/** SigV4's time stamp, `YYYYMMDDTHHMMSSZ`. */
function amzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[:-]|\.\d{3}/g, '');
}
