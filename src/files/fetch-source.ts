import { AppError } from '../errors/app-error';
import type { Watchdog } from '../storage/watchdog';
import { checkImportUrl } from './import-guard';

const MAX_REDIRECTS = 5;

/** What every outside request of an import obeys. */
export interface SourcePolicy {
  denyList: string[];
  /** IMPORT_IP_ALLOW_LIST: what the operator opened despite its range (the deny list still wins). */
  allowList: readonly string[];
  timeoutMs: number;
}

/**
 * Fetches an outside URL for an import (a file's URL, an embed provider's endpoint or thumbnail):
 * every hop passes the SSRF guard (redirects are followed by hand, at most five), `dog` bounds the
 * wait for each answer (FILES_IMPORT_TIMEOUT). A source that cannot be reached is a 502
 * SOURCE_UNAVAILABLE or a 504 SOURCE_TIMEOUT naming its host and what happened; the URL itself is
 * never repeated (it may carry a credential). The caller stops `dog` once the body is read.
 */
export async function fetchSource(
  first: URL,
  policy: SourcePolicy,
  dog: Watchdog,
  headers: Record<string, string> = { accept: '*/*' },
): Promise<{ response: Response; url: URL }> {
  let url = first;
  try {
    for (let hop = 0; ; hop++) {
      dog.arm(policy.timeoutMs);
      const response = await fetch(url, { redirect: 'manual', signal: dog.signal, headers });
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || !location) return { response, url };
      await response.body?.cancel();
      if (hop >= MAX_REDIRECTS) throw new AppError('INVALID_PAYLOAD', `The URL redirected more than ${MAX_REDIRECTS} times.`);
      url = checkImportUrl(new URL(location, url).toString(), policy.denyList, policy.allowList);
    }
  } catch (error) {
    dog.stop();
    if (error instanceof AppError) throw error;
    throw unreachable(url, error, dog.fired);
  }
}

/** The words for a fetch that threw: workerd says little, so what it does say is translated. */
export function unreachable(url: URL, error: unknown, timedOutAfter: number | undefined): AppError {
  const host = url.host;
  const extensions = { host };
  if (timedOutAfter !== undefined) {
    return new AppError('SOURCE_TIMEOUT', `Could not reach ${host}: no answer within ${timedOutAfter} ms (FILES_IMPORT_TIMEOUT).`, { extensions });
  }
  const message = error instanceof Error ? error.message : String(error);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  // workerd's words for a refused or reset connection, and for a name that did not resolve.
  const why = /connection lost|refused|reset/i.test(message)
    ? `the connection was refused or cut (is a server listening on port ${port}?)`
    : /internal error|lookup|resolve|dns/i.test(message)
      ? 'its name did not resolve, or no connection could be made'
      : message.replace(/\.$/, '');
  return new AppError('SOURCE_UNAVAILABLE', `Could not reach ${host}: ${why}.`, { cause: error, extensions });
}
