/**
 * A local stand-in for YouTube's and Vimeo's oEmbed endpoints, their thumbnail hosts and the YouTube
 * Data API, for the embed tests (test/files/embeds.test.ts). Answers have the providers' shapes:
 *   GET /youtube/oembed?url=https://www.youtube.com/watch?v=<id>&format=json
 *   GET /vimeo/oembed.json?url=https://vimeo.com/<id>&format=json   (Vimeo's answer carries `duration`)
 *   GET /youtube/v3/videos?part=contentDetails&id=<id>   with X-Goog-Api-Key: STAND_IN_API_KEY
 *   GET /vi/<id>/hqdefault.jpg, /video/<id>.webp   the thumbnails (real JPEG and WebP images)
 * Which video ids do what is in VIDEOS. The thumbnail URLs it answers are on img.stand-in.example
 * (the tests route `*.stand-in.example` here), so they pass the import guard as a real provider's
 * would. Every request is recorded: GET /__requests. Runs in Node.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';

export const STAND_IN_API_KEY = 'stand-in-youtube-key-0123456789abcdef';

/** Video ids and what the stand-in does with them. */
export const VIDEOS = {
  youtube: 'dQw4w9WgXcQ',
  youtubeMissing: 'missing0000',
  youtubePrivate: 'private0000',
  youtubeFailing: 'failing0000',
  youtubeNotImage: 'notimage000',
  vimeo: '76979871',
  vimeoMissing: '404404',
} as const;

export interface RecordedRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
}

export async function startOembedStandIn(): Promise<{ port: number; close: () => Promise<void> }> {
  const jpeg = await sharp({ create: { width: 480, height: 360, channels: 3, background: '#c03020' } }).jpeg().toBuffer();
  const webp = await sharp({ create: { width: 640, height: 360, channels: 3, background: '#2060c0' } }).webp().toBuffer();
  const requests: RecordedRequest[] = [];

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    if (url.pathname === '/__requests') return json(res, 200, requests);
    requests.push({ path: `${url.pathname}${url.search}`, headers: req.headers });
    const thumbnailHost = 'https://img.stand-in.example';
    const page = url.searchParams.get('url') ?? '';

    if (url.pathname === '/youtube/oembed') {
      const id = new URL(page, 'https://www.youtube.com').searchParams.get('v');
      if (id === VIDEOS.youtubeMissing) return text(res, 404, 'Not Found');
      if (id === VIDEOS.youtubePrivate) return text(res, 401, 'Unauthorized');
      if (id === VIDEOS.youtubeFailing) return text(res, 503, 'Service Unavailable');
      const thumbnail = id === VIDEOS.youtubeNotImage ? `${thumbnailHost}/page.html` : `${thumbnailHost}/vi/${id}/hqdefault.jpg`;
      return json(res, 200, {
        title: `Stand-in video ${id}`,
        author_name: 'Stand-in',
        type: 'video',
        provider_name: 'YouTube',
        thumbnail_url: thumbnail,
        thumbnail_width: 480,
        thumbnail_height: 360,
        html: `<iframe src="https://www.youtube.com/embed/${id}"></iframe>`,
      });
    }
    if (url.pathname === '/vimeo/oembed.json') {
      const id = new URL(page, 'https://vimeo.com').pathname.slice(1);
      if (id === VIDEOS.vimeoMissing) return text(res, 404, '404 Not Found');
      return json(res, 200, {
        type: 'video',
        provider_name: 'Vimeo',
        title: `Stand-in Vimeo ${id}`,
        description: 'A video on the stand-in.',
        duration: 62,
        video_id: Number(id),
        thumbnail_url: `${thumbnailHost}/video/${id}.webp`,
        thumbnail_width: 640,
        thumbnail_height: 360,
      });
    }
    if (url.pathname === '/youtube/v3/videos') {
      if (req.headers['x-goog-api-key'] !== STAND_IN_API_KEY) return json(res, 403, { error: { code: 403, message: 'API key not valid.' } });
      return json(res, 200, { kind: 'youtube#videoListResponse', items: [{ id: url.searchParams.get('id'), contentDetails: { duration: 'PT4M13S' } }] });
    }
    if (/^\/vi\/[\w-]+\/hqdefault\.jpg$/.test(url.pathname)) return bytes(res, 'image/jpeg', jpeg);
    if (/^\/video\/\d+\.webp$/.test(url.pathname)) return bytes(res, 'image/webp', webp);
    if (url.pathname === '/page.html') return bytes(res, 'text/html', Buffer.from('<!doctype html><title>not an image</title>'));
    return text(res, 404, 'no such stand-in path');
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  bytes(res, 'application/json', Buffer.from(JSON.stringify(body)), status);
}

function text(res: http.ServerResponse, status: number, body: string): void {
  bytes(res, 'text/plain', Buffer.from(body), status);
}

function bytes(res: http.ServerResponse, type: string, body: Buffer, status = 200): void {
  res.writeHead(status, { 'content-type': type, 'content-length': body.byteLength });
  res.end(body);
}
