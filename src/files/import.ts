import type { FileRow } from '../db/schema';
import { AppError } from '../errors/app-error';
import { storageFor } from '../storage';
import { Watchdog } from '../storage/watchdog';
import type { FileFieldsPatch } from './fields';
import { checkImportUrl } from './import-guard';
import { assertFolder, createFile, type FilesDeps } from './service';

const MAX_REDIRECTS = 5;

/**
 * Imports a file from a URL: every hop (redirects are followed by hand, at most five) passes the
 * SSRF guard; the body streams to storage under the size cap; FILES_IMPORT_TIMEOUT bounds the wait
 * for an answer and every stall while the body arrives.
 */
export async function importFile(
  deps: FilesDeps,
  rawUrl: string,
  fields: Partial<FileFieldsPatch>,
  options: { storage?: string | undefined; uploadedBy?: string | null } = {},
): Promise<FileRow> {
  // Everything that can refuse the request without its bytes is asked before the URL is fetched:
  // a request that cannot succeed must not reach out first.
  const { importDenyList, importAllowList, importTimeoutMs, maxUploadSize } = deps.config.files;
  let url = checkImportUrl(rawUrl, importDenyList, importAllowList);
  storageFor(deps.config, options.storage);
  await assertFolder(deps, fields);
  const dog = new Watchdog();
  let response: Response | undefined;
  try {
    for (let hop = 0; ; hop++) {
      dog.arm(importTimeoutMs);
      response = await fetch(url, { redirect: 'manual', signal: dog.signal, headers: { accept: '*/*' } });
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || !location) break;
      await response.body?.cancel();
      if (hop >= MAX_REDIRECTS) throw new AppError('INVALID_PAYLOAD', `The URL redirected more than ${MAX_REDIRECTS} times.`);
      url = checkImportUrl(new URL(location, url).toString(), importDenyList, importAllowList);
    }
  } catch (error) {
    dog.stop();
    if (error instanceof AppError) throw error;
    if (dog.fired !== undefined) throw new AppError('INVALID_PAYLOAD', `The URL did not answer within ${importTimeoutMs} ms (FILES_IMPORT_TIMEOUT).`);
    throw new AppError('INVALID_PAYLOAD', `The URL could not be fetched: ${(error as Error).message}.`);
  }
  if (!response.ok || !response.body) {
    dog.stop();
    await response.body?.cancel();
    throw new AppError('INVALID_PAYLOAD', `The URL answered ${response.status}; only a 2xx answer can be imported.`);
  }
  const declaredLength = Number(response.headers.get('content-length') ?? Number.NaN);
  if (maxUploadSize !== undefined && declaredLength > maxUploadSize) {
    dog.stop();
    await response.body.cancel();
    throw new AppError('CONTENT_TOO_LARGE', `The file is larger than the limit of ${maxUploadSize} bytes.`, { extensions: { limit: maxUploadSize } });
  }
  const stream = response.body.pipeThrough(dog.tap(importTimeoutMs));
  return createFile(
    deps,
    { stream, filename: filenameOf(response, url), declaredType: response.headers.get('content-type') ?? undefined },
    fields,
    { uploadedBy: options.uploadedBy ?? null, ...(options.storage === undefined ? {} : { storage: options.storage }) },
  ).finally(() => dog.stop());
}

/** The name from Content-Disposition, else the last path segment, else "import". */
function filenameOf(response: Response, url: URL): string {
  const disposition = response.headers.get('content-disposition') ?? '';
  const star = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(disposition)?.[1];
  if (star) {
    try {
      return decodeURIComponent(star.trim());
    } catch {
      // fall through to the plain parameter
    }
  }
  const plain = /filename\s*=\s*"?([^";]+)"?/i.exec(disposition)?.[1];
  if (plain) return plain.trim();
  const segment = url.pathname.split('/').filter((s) => s !== '').pop();
  try {
    return segment ? decodeURIComponent(segment) : 'import';
  } catch {
    return segment ?? 'import';
  }
}
