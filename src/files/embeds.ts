import type { FileRow } from '../db/schema';
import { AppError } from '../errors/app-error';
import { storageFor } from '../storage';
import { Watchdog } from '../storage/watchdog';
import { fetchSource } from './fetch-source';
import { type FileFieldsPatch, cleanName, FIELD_MAX_BYTES, scrapedIfValid } from './fields';
import { assertTypeAllowed, detectType, HEAD_BYTES, peek } from './inspect';
import { askJson, endpointUrl, oembedFacts, oembedRefusal, youtubeDuration } from './oembed';
import { extensionOf } from './record';
import { assertFolder, createFile, type FilesDeps } from './service';

/** A video on a provider this service embeds (Directus 8's embeds). */
export interface EmbeddedVideo {
  provider: 'youtube' | 'vimeo';
  id: string;
}

const PROVIDERS = {
  youtube: { name: 'YouTube', oembed: 'youtubeOembedUrl', variable: 'YOUTUBE_OEMBED_URL', page: (id: string) => `https://www.youtube.com/watch?v=${id}` },
  vimeo: { name: 'Vimeo', oembed: 'vimeoOembedUrl', variable: 'VIMEO_OEMBED_URL', page: (id: string) => `https://vimeo.com/${id}` },
} as const;

const YOUTUBE_HOSTS = new Set(['youtube.com', 'www.youtube.com', 'm.youtube.com', 'music.youtube.com', 'youtube-nocookie.com', 'www.youtube-nocookie.com']);
const YOUTUBE_ID = /^[A-Za-z0-9_-]{11}$/;
const VIMEO_ID = /^[1-9]\d{0,11}$/;

/** The thumbnail formats an embed may store, by the extension its key gets. */
const THUMBNAIL_TYPES: Record<string, string> = { jpg: 'image/jpeg', png: 'image/png', webp: 'image/webp', gif: 'image/gif', avif: 'image/avif' };

/**
 * The video a URL names, if it is a YouTube (`youtube.com/watch?v=`, `youtu.be/`, `/shorts/`,
 * `/embed/`) or Vimeo (`vimeo.com/<id>`, `player.vimeo.com/video/<id>`) video's URL; undefined for
 * any other URL (imported as it is). A video URL whose id is malformed is a 400: ids are checked
 * strictly (YouTube: 11 of A–Z a–z 0–9 - _; Vimeo: digits), since they go into the provider's URL.
 */
export function embeddedVideo(url: URL): EmbeddedVideo | undefined {
  const host = url.hostname.replace(/\.+$/, '');
  const segments = url.pathname.split('/').filter((s) => s !== '');
  const [first, second] = segments;
  if (host === 'youtu.be') return video('youtube', first, 'youtu.be/<id>');
  if (YOUTUBE_HOSTS.has(host)) {
    if (first === 'watch' && segments.length === 1) return video('youtube', url.searchParams.get('v') ?? undefined, 'youtube.com/watch?v=<id>');
    if ((first === 'shorts' || first === 'embed') && segments.length <= 2) return video('youtube', second, `youtube.com/${first}/<id>`);
    return undefined;
  }
  if (host === 'player.vimeo.com' && first === 'video') return video('vimeo', second, 'player.vimeo.com/video/<id>');
  if ((host === 'vimeo.com' || host === 'www.vimeo.com') && segments.length === 1 && first !== undefined && /^\d+$/.test(first)) return video('vimeo', first, 'vimeo.com/<id>');
  return undefined;
}

function video(provider: EmbeddedVideo['provider'], id: string | undefined, form: string): EmbeddedVideo {
  const valid = provider === 'youtube' ? YOUTUBE_ID : VIMEO_ID;
  if (id === undefined || !valid.test(id)) {
    const expected = provider === 'youtube' ? '11 letters, digits, - or _' : 'digits';
    const given = id === undefined ? 'no video id' : `"${cleanName(id, 64)}", which is not a ${PROVIDERS[provider].name} video id`;
    throw new AppError('INVALID_PAYLOAD', `The URL has the form ${form} but ${given}: an id is ${expected}.`);
  }
  return { provider, id };
}

/**
 * Imports a video as an embed (Directus 8): a record with `type` `embed/youtube` or `embed/vimeo`,
 * `embed` the video id, the provider's title (unless `fields` sets one) and, as its bytes, the
 * provider's thumbnail, so `/assets`, thumbnails, `width` and `height` work as for any image. Title
 * and thumbnail come from the provider's oEmbed endpoint; `duration` from Vimeo's answer, or for
 * YouTube from the Data API when YOUTUBE_API_KEY is set. Every outbound URL — the endpoints, the
 * thumbnail the answer names, every redirect — passes the import guard.
 */
export async function importEmbed(
  deps: FilesDeps,
  embedded: EmbeddedVideo,
  fields: Partial<FileFieldsPatch>,
  options: { storage?: string | undefined; uploadedBy?: string | null },
): Promise<FileRow> {
  const { config } = deps;
  const type = `embed/${embedded.provider}`;
  const provider = PROVIDERS[embedded.provider];
  assertTypeAllowed(type, config.files.mimeTypeAllowList);
  storageFor(config, options.storage);
  await assertFolder(deps, fields);
  const policy = { denyList: config.files.importDenyList, allowList: config.files.importAllowList, timeoutMs: config.files.importTimeoutMs };

  const oembed = endpointUrl(config.embeds[provider.oembed], provider.variable, { url: provider.page(embedded.id), format: 'json' }, policy);
  const answer = await askJson(oembed, policy, {}, `${provider.name}'s oEmbed endpoint`, (status) => oembedRefusal(provider.name, embedded.id, status));
  const facts = oembedFacts(answer, provider.name, policy);
  const duration = embedded.provider === 'youtube' ? await youtubeDuration(config.embeds, embedded.id, policy) : (facts.duration ?? null);

  const dog = new Watchdog();
  const { response } = await fetchSource(facts.thumbnail, policy, dog, { accept: 'image/*' });
  if (!response.ok || !response.body) {
    dog.stop();
    await response.body?.cancel();
    throw new AppError('SOURCE_UNAVAILABLE', `${provider.name}'s thumbnail of video "${embedded.id}" could not be fetched (answered ${response.status}).`);
  }
  const { head, stream } = await peek(response.body.pipeThrough(dog.tap(policy.timeoutMs)), HEAD_BYTES);
  const { type: imageType, ext } = await detectType(head, response.headers.get('content-type') ?? undefined, 'thumbnail');
  if (ext === undefined || THUMBNAIL_TYPES[ext] !== imageType) {
    dog.stop();
    await stream.cancel();
    throw new AppError('SOURCE_UNAVAILABLE', `${provider.name}'s thumbnail of video "${embedded.id}" is not an image (${imageType}).`);
  }
  const title = fields.title !== undefined ? fields.title : facts.title && cleanName(facts.title, FIELD_MAX_BYTES.title);
  const description = fields.description !== undefined ? fields.description : scrapedIfValid('description', facts.description);
  return createFile(
    deps,
    { stream, filename: `${embedded.provider}-${embedded.id}.${ext}`, declaredType: imageType },
    { ...fields, ...(title ? { title } : {}), ...(description === undefined ? {} : { description }) },
    { uploadedBy: options.uploadedBy ?? null, ...(options.storage === undefined ? {} : { storage: options.storage }), embed: { type, embed: embedded.id, duration } },
  ).finally(() => dog.stop());
}

/**
 * A record as `/assets` serves its bytes: an embed's bytes are its thumbnail, so it is served, and
 * transformed, as the image it is (the type its key's extension was given when it was stored).
 */
export function asStoredBytes(row: FileRow): FileRow {
  if (!row.type?.startsWith('embed/')) return row;
  return { ...row, type: THUMBNAIL_TYPES[extensionOf(row.filenameDisk ?? '') ?? ''] ?? 'application/octet-stream' };
}
