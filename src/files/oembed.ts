import { AppError } from '../errors/app-error';
import { log } from '../lib/log';
import { Watchdog } from '../storage/watchdog';
import { fetchSource, type SourcePolicy, unreachable } from './fetch-source';

/** The import guard's lists, as every outside URL of an import is checked against them. */
type GuardLists = Pick<SourcePolicy, 'denyList' | 'allowList'>;
import { checkImportUrl } from './import-guard';

/** What an embed learns from its provider's oEmbed answer (https://oembed.com, §2.3.4). */
export interface OembedFacts {
  title: string | undefined;
  description: string | undefined;
  /** Seconds; Vimeo's answer has it, YouTube's does not. */
  duration: number | undefined;
  /** Checked by the import guard: a provider's answer is outside input like any URL. */
  thumbnail: URL;
}

/** An oEmbed or API answer is a few kilobytes; a larger one is not read. */
const MAX_ANSWER_BYTES = 256 * 1024;

/**
 * The URL of a configured endpoint with `params` set. The operator's URL passes the import guard
 * too (a mistyped internal address must not become a way in); refused, it is a configuration error
 * naming the variable.
 */
export function endpointUrl(base: string, variable: string, params: Record<string, string>, guard: GuardLists): URL {
  let url: URL;
  try {
    url = checkImportUrl(base, guard.denyList, guard.allowList);
  } catch (error) {
    throw new AppError('INVALID_CONFIG', `${variable} cannot be used: ${(error as Error).message}`);
  }
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url;
}

/**
 * GETs `url` through the import's fetch (guard, redirects, FILES_IMPORT_TIMEOUT) and parses its JSON
 * answer, at most MAX_ANSWER_BYTES. A non-2xx answer is `refuse(status)`'s error; an unreadable one
 * is a 502 naming `what`.
 */
export async function askJson(url: URL, policy: SourcePolicy, headers: Record<string, string>, what: string, refuse: (status: number) => AppError): Promise<unknown> {
  const dog = new Watchdog();
  const { response } = await fetchSource(url, policy, dog, { accept: 'application/json', ...headers });
  try {
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw refuse(response.status);
    }
    let text: string | undefined;
    try {
      text = await readCapped(response.body.pipeThrough(dog.tap(policy.timeoutMs)), MAX_ANSWER_BYTES);
    } catch (error) {
      throw unreachable(url, error, dog.fired);
    }
    if (text === undefined) throw new AppError('SOURCE_UNAVAILABLE', `${what} answered more than ${MAX_ANSWER_BYTES} bytes; an answer is a few kilobytes.`);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new AppError('SOURCE_UNAVAILABLE', `${what} did not answer JSON.`);
    }
  } finally {
    dog.stop();
  }
}

/** The text of a stream, or undefined (and the stream cancelled) past `max` bytes. */
async function readCapped(stream: ReadableStream<Uint8Array>, max: number): Promise<string | undefined> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let size = 0;
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return undefined;
    }
    text += decoder.decode(value, { stream: true });
  }
}

/** How a provider's oEmbed endpoint refused a video, for a client who can do something about it. */
export function oembedRefusal(provider: string, id: string, status: number): AppError {
  if (status === 404) return new AppError('NOT_FOUND', `${provider} has no video "${id}" (its oEmbed endpoint answered 404).`);
  if (status === 401 || status === 403) {
    return new AppError('INVALID_PAYLOAD', `${provider} does not let video "${id}" be embedded (its oEmbed endpoint answered ${status}): it is private, or its owner turned embedding off.`);
  }
  if (status >= 400 && status < 500) return new AppError('INVALID_PAYLOAD', `${provider}'s oEmbed endpoint refused video "${id}" (answered ${status}).`);
  return new AppError('SOURCE_UNAVAILABLE', `${provider}'s oEmbed endpoint failed (answered ${status}); try again later.`);
}

/**
 * The facts of a provider's oEmbed answer. The answer is outside input: text fields are taken only
 * when they are strings, `duration` only when a whole, non-negative number, and the thumbnail only
 * when the import guard lets it be fetched — an answer pointing at a metadata or private address is
 * a 502 and nothing is fetched.
 */
export function oembedFacts(answer: unknown, provider: string, guard: GuardLists): OembedFacts {
  const a = typeof answer === 'object' && answer !== null && !Array.isArray(answer) ? (answer as Record<string, unknown>) : {};
  const text = (value: unknown) => (typeof value === 'string' && value.trim() !== '' ? value : undefined);
  const raw = text(a.thumbnail_url);
  if (raw === undefined) throw new AppError('SOURCE_UNAVAILABLE', `${provider}'s oEmbed answer has no thumbnail_url.`);
  let thumbnail: URL;
  try {
    thumbnail = checkImportUrl(raw, guard.denyList, guard.allowList);
  } catch (error) {
    throw new AppError('SOURCE_UNAVAILABLE', `${provider}'s oEmbed answer gives a thumbnail that may not be fetched: ${(error as Error).message}`);
  }
  const duration = typeof a.duration === 'number' && Number.isSafeInteger(a.duration) && a.duration >= 0 ? a.duration : undefined;
  return { title: text(a.title), description: text(a.description), duration, thumbnail };
}

/**
 * A YouTube video's length in seconds, from the YouTube Data API (videos?part=contentDetails), when
 * YOUTUBE_API_KEY is set. The key goes in the `X-Goog-Api-Key` header, never in the URL, so it is in
 * no URL an error, a log or a proxy could repeat. A video the API does not list (private) has no
 * duration; a refused key is a 502 naming the variable.
 */
export async function youtubeDuration(
  settings: { youtubeApiUrl: string; youtubeApiKey: string | undefined },
  id: string,
  policy: SourcePolicy,
): Promise<number | null> {
  if (settings.youtubeApiKey === undefined) return null;
  const url = endpointUrl(settings.youtubeApiUrl, 'YOUTUBE_API_URL', { part: 'contentDetails', id }, policy);
  const answer = await askJson(url, policy, { 'x-goog-api-key': settings.youtubeApiKey }, 'The YouTube Data API', (status) => {
    log('warn', 'youtube data api refused', { status });
    return new AppError(
      'SOURCE_UNAVAILABLE',
      status === 400 || status === 401 || status === 403
        ? `The YouTube Data API refused YOUTUBE_API_KEY (answered ${status}): check the key, and that the YouTube Data API v3 is enabled for its project.`
        : `The YouTube Data API failed (answered ${status}); try again later.`,
    );
  });
  const items = (answer as { items?: unknown } | null)?.items;
  const first = Array.isArray(items) ? (items[0] as { contentDetails?: { duration?: unknown } } | undefined) : undefined;
  const iso = first?.contentDetails?.duration;
  return typeof iso === 'string' ? (isoDurationSeconds(iso) ?? null) : null;
}

/** `PT1H2M3S`, `P1DT4M`, `P2W`, `PT0S` (ISO 8601 durations as YouTube writes them) → whole seconds. */
export function isoDurationSeconds(text: string): number | undefined {
  const m = /^P(?:(\d{1,6})W)?(?:(\d{1,6})D)?(?:T(?:(\d{1,6})H)?(?:(\d{1,6})M)?(?:(\d{1,9}(?:\.\d+)?)S)?)?$/.exec(text);
  if (!m || text === 'P' || text.endsWith('T')) return undefined;
  const [, w = '0', d = '0', h = '0', min = '0', s = '0'] = m;
  return Math.round(Number(w) * 604800 + Number(d) * 86400 + Number(h) * 3600 + Number(min) * 60 + Number(s));
}
