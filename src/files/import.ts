import type { FileRow } from '../db/schema';
import { AppError } from '../errors/app-error';
import { storageFor } from '../storage';
import { Watchdog } from '../storage/watchdog';
import type { FileFieldsPatch } from './fields';
import { embeddedVideo, importEmbed } from './embeds';
import { fetchSource } from './fetch-source';
import { checkImportUrl } from './import-guard';
import { assertFolder, createFile, type FilesDeps } from './service';

/**
 * Imports a file from a URL: every hop passes the SSRF guard (see fetchSource); the body streams to
 * storage under the size cap; FILES_IMPORT_TIMEOUT bounds the wait for an answer and every stall
 * while the body arrives. A YouTube or Vimeo video's URL makes an embed instead (see importEmbed).
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
  const first = checkImportUrl(rawUrl, importDenyList, importAllowList);
  const video = embeddedVideo(first);
  if (video) return importEmbed(deps, video, fields, options);
  storageFor(deps.config, options.storage);
  await assertFolder(deps, fields);
  const dog = new Watchdog();
  const { response, url } = await fetchSource(first, { denyList: importDenyList, allowList: importAllowList, timeoutMs: importTimeoutMs }, dog);
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
