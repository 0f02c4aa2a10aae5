import type { Config } from '../config';
import { AppError, type ErrorCode } from '../errors/app-error';
import type { S3Client } from '../storage/s3-client';
import { log } from '../lib/log';

/**
 * A transform the engine refused, remembered like a derivative: the same file bytes and the same
 * transform are refused the same way every time, so a hostile URL (a decoder bomb, a transform past
 * the work budget) costs one read and one refusal, not one per request. Kept beside the derivatives
 * as `generated/<id>/<hash>.refused` (removed with them when the file changes; its hash carries the
 * file's version and the transform, focal point included) and at the edge for EDGE_REFUSAL_SECONDS.
 */
export interface Refusal {
  code: ErrorCode;
  message: string;
}

/**
 * The refusals that depend only on the file's bytes and the transform: an image that cannot be
 * decoded or is too large (422), a transform past the output or work budget (400). Never a storage
 * failure, a missing object or a file's used-up variants: those change without the file changing.
 */
const REMEMBERED = new Set<ErrorCode>(['UNPROCESSABLE_IMAGE', 'INVALID_QUERY']);

/** How long an edge location answers a refusal without asking storage: short, as the record in storage is the lasting one. */
export const EDGE_REFUSAL_SECONDS = 600;

/**
 * Whether a refusal depends on the file alone. A decoder that ran out of memory — a WebAssembly heap
 * that could not grow, an allocation refused (RangeError), an Emscripten abort (RuntimeError) — may
 * have failed for the isolate's sake, under another job's pressure, not the file's: remembered, a
 * valid image would stay refused until it changed. Such a failure is decided again next time, within
 * the budgets; a codec's report of bad data, and the engine's own checks, are remembered.
 */
function dependsOnFileAlone(error: AppError): boolean {
  const cause = error.cause;
  return !(cause instanceof RangeError || cause instanceof WebAssembly.RuntimeError);
}

export function refusalOf(error: unknown): Refusal | undefined {
  return error instanceof AppError && REMEMBERED.has(error.code) && dependsOnFileAlone(error) ? { code: error.code, message: error.message } : undefined;
}

export const refusalError = (r: Refusal) => new AppError(r.code, r.message);

/** Raised when a change of the engine's code could turn a refusal into an image. */
const REFUSAL_VERSION = 1;

/** The limits a refusal was made under: raising them, or changing the engine, makes it be tried again. */
const limitsOf = (config: Config) => `${REFUSAL_VERSION}/${config.assets.engine}/${config.assets.maxPixels}/${config.assets.maxPasses}`;

export const refusalKey = (derivativeKey: string) => derivativeKey.replace(/\.[a-z]+$/, '.refused');

/** The refusal stored for a derivative's key, if one was made under today's limits. */
export async function storedRefusal(config: Config, client: S3Client, derivativeKey: string): Promise<Refusal | undefined> {
  const bytes = await client.readBytes(refusalKey(derivativeKey));
  if (!bytes) return undefined;
  try {
    const stored = JSON.parse(new TextDecoder().decode(bytes)) as Partial<Refusal> & { limits?: string };
    if (stored.limits !== limitsOf(config) || !REMEMBERED.has(stored.code as ErrorCode) || typeof stored.message !== 'string') return undefined;
    return { code: stored.code as ErrorCode, message: stored.message };
  } catch {
    return undefined;
  }
}

/** Stores a refusal (after the answer: losing it only costs one more refusal). */
export async function storeRefusal(config: Config, client: S3Client, derivativeKey: string, r: Refusal): Promise<void> {
  const body = new TextEncoder().encode(JSON.stringify({ ...r, limits: limitsOf(config) }));
  await client.putObject(refusalKey(derivativeKey), body, { contentType: 'application/json', contentLength: body.byteLength }).catch((error: Error) => {
    log('warn', 'refusal not stored', { key: refusalKey(derivativeKey), reason: error.message });
  });
}
