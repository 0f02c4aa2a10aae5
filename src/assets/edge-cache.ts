import type { Config } from '../config';
import type { FileRow } from '../db/schema';
import { hex } from '../lib/bytes';
import { log } from '../lib/log';
import { EDGE_REFUSAL_SECONDS } from './refusals';

/** Every edge key lives under one internal origin, so each route computes the same keys. */
const ORIGIN = 'https://edge-assets.internal';

/**
 * Who may be answered from an entry. `anyone`: the file is public, so an anonymous request may be.
 * `proven`: only a request that proved its access (a token, a signed URL; a private hash finds its
 * entries through the hash itself). The two live under different keys: an anonymous request never
 * even finds a private file's entry.
 */
export type Audience = 'anyone' | 'proven';

/** What an entry says about itself, besides its body and HTTP headers. */
export interface EntryMeta {
  fileId: string;
  /** The record's state the answer was made from (see `fingerprint`). */
  fingerprint: string;
  /** When the entry was last known to match its record (ms since the epoch). */
  checkedAt: number;
  /** The download name (filename_download, with a derivative's extension). */
  name: string;
  original: boolean;
  /** The answer depends on Accept (`format=auto`). */
  varies: boolean;
  /** The body is the engine's refusal of this variant (refusals.ts), kept EDGE_REFUSAL_SECONDS at most. */
  refused: boolean;
}

export interface EdgeHit {
  meta: EntryMeta;
  audience: Audience;
  response: Response;
  key: Request;
  /** Checked against its record within ASSETS_EDGE_REVALIDATE: served without asking D1. */
  fresh: boolean;
}

const META = {
  fileId: 'x-edge-file',
  fingerprint: 'x-edge-fingerprint',
  checkedAt: 'x-edge-checked',
  name: 'x-edge-name',
  original: 'x-edge-original',
  varies: 'x-edge-varies',
  refused: 'x-edge-refused',
} as const;
const GONE_AT = 'x-edge-gone-at';

/** The tag every entry of a file carries, for Cloudflare's purge by tag. */
export function cacheTag(fileId: string): string {
  return `ea-file-${fileId}`;
}

/**
 * The record's state an answer depends on: its bytes (checksum, type, upload time), who may see it
 * (access, ASSETS_PUBLIC, the private hash), the focal point of cover crops and the download name.
 * An entry whose fingerprint no longer matches is never served again.
 */
export async function fingerprint(config: Config, row: FileRow): Promise<string> {
  const state = [row.checksum, row.type, row.uploadedOn, row.access, config.assets.public, row.privateHash, row.focalPointX, row.focalPointY, row.filenameDownload];
  return hex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify(state)))).slice(0, 24);
}

const entryKey = (ref: string, variant: string, audience: Audience) => new Request(`${ORIGIN}/${audience}/${encodeURIComponent(ref)}/${encodeURIComponent(variant)}`);
const goneKey = (ref: string) => new Request(`${ORIGIN}/gone/${encodeURIComponent(ref)}`);

async function discard(responses: (Response | undefined)[]): Promise<void> {
  await Promise.all(responses.map((r) => r?.body?.cancel()));
}

/**
 * The edge cache (the Cache API of the Cloudflare location serving the request) as this service
 * uses it: entries keyed by what the request names (an id or a private hash, and the variant), so a
 * hit needs neither D1 nor storage. Each entry carries its file's fingerprint and when it was last
 * checked; a change to a file leaves a tombstone per name of the file in this location, so every
 * entry made before it misses at once, whatever its variant. Other locations see the change when
 * their entries come up for their check (ASSETS_EDGE_REVALIDATE), or at once through Cloudflare's
 * purge by tag when it is configured.
 */
export class EdgeCache {
  constructor(
    private readonly config: Config,
    private readonly cache: Cache = caches.default,
  ) {}

  /** The entry for `ref` and `variant` that one of `audiences` may be answered from. */
  async lookup(ref: string, variant: string, audiences: Audience[]): Promise<EdgeHit | undefined> {
    const keys = audiences.map((a) => entryKey(ref, variant, a));
    const [gone, ...found] = await Promise.all([this.goneAt(ref), ...keys.map((k) => this.cache.match(k))]);
    const index = found.findIndex((r) => r !== undefined);
    await discard(found.filter((_, i) => i !== index));
    const response = found[index];
    if (!response) return undefined;
    // Tombstones are left under the file's id; a private hash's entry looks there too.
    const fileId = response.headers.get(META.fileId) ?? '';
    const goneAt = Math.max(gone, fileId === ref ? 0 : await this.goneAt(fileId));
    if (Number(response.headers.get(META.checkedAt)) <= goneAt) {
      await discard([response]);
      return undefined;
    }
    const meta: EntryMeta = {
      fileId: response.headers.get(META.fileId) ?? '',
      fingerprint: response.headers.get(META.fingerprint) ?? '',
      checkedAt: Number(response.headers.get(META.checkedAt)),
      name: decodeURIComponent(response.headers.get(META.name) ?? ''),
      original: response.headers.get(META.original) === '1',
      varies: response.headers.get(META.varies) === '1',
      refused: response.headers.get(META.refused) === '1',
    };
    return { meta, audience: audiences[index] as Audience, response, key: keys[index] as Request, fresh: Date.now() - meta.checkedAt < this.config.edge.revalidateMs };
  }

  private async goneAt(ref: string): Promise<number> {
    const gone = await this.cache.match(goneKey(ref));
    await discard([gone]);
    return Number(gone?.headers.get(GONE_AT) ?? 0);
  }

  /**
   * Stores an answer: `headers` are its representation's own (type, length, validators), `body` the
   * whole derivative or a stream from a storage read of its own. Kept as long as ASSETS_CACHE_TTL
   * allows; served without a check only within ASSETS_EDGE_REVALIDATE of `meta.checkedAt`.
   */
  async put(ref: string, variant: string, audience: Audience, meta: EntryMeta, headers: Headers, body: BodyInit): Promise<void> {
    const h = new Headers(headers);
    const ttl = meta.refused ? Math.min(EDGE_REFUSAL_SECONDS, this.config.assets.cacheTtlSeconds) : this.config.assets.cacheTtlSeconds;
    h.set('Cache-Control', `public, s-maxage=${ttl}`);
    h.set('Cache-Tag', cacheTag(meta.fileId));
    h.set(META.fileId, meta.fileId);
    h.set(META.fingerprint, meta.fingerprint);
    h.set(META.checkedAt, String(meta.checkedAt));
    h.set(META.name, encodeURIComponent(meta.name));
    h.set(META.original, meta.original ? '1' : '0');
    h.set(META.varies, meta.varies ? '1' : '0');
    h.set(META.refused, meta.refused ? '1' : '0');
    await this.cache.put(entryKey(ref, variant, audience), new Response(body, { headers: h }));
  }

  /** An entry due for its check whose record (read at `checkedAt`) has not changed: kept again. */
  async refresh(hit: EdgeHit, checkedAt: number): Promise<void> {
    const again = await this.cache.match(hit.key);
    if (!again?.body) return;
    const h = new Headers(again.headers);
    h.set(META.checkedAt, String(checkedAt));
    await this.cache.put(hit.key, new Response(again.body, { headers: h }));
  }

  /** An entry whose record changed: removed, so it is not checked again and again. */
  async drop(hit: EdgeHit): Promise<void> {
    await this.cache.delete(hit.key);
  }

  /** The same entry, asked for a byte range (the Cache API answers 206 from its copy). */
  ranged(hit: EdgeHit, range: string): Promise<Response | undefined> {
    return this.cache.match(new Request(hit.key.url, { headers: { range } }));
  }

  /**
   * A file changed (replaced, deleted, made private, hash rotated, focal point or name edited): every
   * entry of it, under its id or a private hash, stops being served in this location at once,
   * through a tombstone under its id that outlives the entries' check interval; everywhere else
   * within ASSETS_EDGE_REVALIDATE, or at once when the purge API is configured (in `waitUntil`).
   */
  async invalidate(fileId: string, waitUntil: (p: Promise<unknown>) => void): Promise<void> {
    const ttl = Math.ceil(this.config.edge.revalidateMs / 1000) + 60;
    await this.cache.put(goneKey(fileId), new Response('', { headers: { [GONE_AT]: String(Date.now()), 'Cache-Control': `public, s-maxage=${ttl}` } }));
    const { purge } = this.config.edge;
    if (purge) waitUntil(purgeTag(purge, cacheTag(fileId)));
  }
}

/** Cloudflare's purge by Cache-Tag for the zone: every location drops the file's entries. */
async function purgeTag(purge: { zoneId: string; apiToken: string }, tag: string): Promise<void> {
  try {
    const res = await fetch(`https://api.cloudflare.com/client/v4/zones/${purge.zoneId}/purge_cache`, {
      method: 'POST',
      headers: { authorization: `Bearer ${purge.apiToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tags: [tag] }),
    });
    if (!res.ok) log('warn', 'edge purge refused', { tag, status: res.status });
    await res.body?.cancel();
  } catch (error) {
    log('warn', 'edge purge failed', { tag, reason: (error as Error).message });
  }
}
