import type { Context } from 'hono';
import { directOffer } from '../direct/offer';
import type { AppEnv } from '../env';
import { AppError } from '../errors/app-error';

/** The paths of the file library page's document; its scripts and styles are static assets under /admin/. */
export const ADMIN_PAGE_PATHS = ['/admin', '/admin/', '/admin/index.html'];

/**
 * The page's Content-Security-Policy. Scripts and styles are trusted only under `<origin>/admin/`,
 * never `'self'`: the same origin also serves uploads under /assets, and an uploaded
 * `text/javascript` or `text/css` must not satisfy the page's policy. A host-source carries a path
 * where `'self'` cannot, so the policy is built per request from the origin the page is served at.
 * Images may come from the whole origin (thumbnails; an image cannot run script), the API from
 * `'self'`. Previews are object URLs the page made from /assets answers, their type forced from the
 * record: `blob:` for media (players) and frames (the browser's PDF viewer). When the page uploads
 * large files straight to the bucket, `bucketOrigin` (where its presigned part URLs point) joins
 * connect-src, and no other origin. Everything else is refused.
 */
export function adminPageCsp(origin: string, bucketOrigin?: string): string {
  // An origin is what URL made of the request's host; anything else would break out of the header.
  // (`bucketOrigin` is a parsed URL's origin from the location's ENDPOINT, never from the request.)
  if (!/^https?:\/\/[A-Za-z0-9.-]+(:\d+)?$|^https?:\/\/\[[0-9A-Fa-f:.]+\](:\d+)?$/.test(origin)) return "default-src 'none'";
  const page = `${origin}/admin/`;
  return [
    "default-src 'none'",
    `script-src ${page}`,
    `style-src ${page}`,
    "img-src 'self' blob: data:",
    'media-src blob:',
    'frame-src blob:',
    `connect-src 'self'${bucketOrigin && bucketOrigin !== origin ? ` ${bucketOrigin}` : ''}`,
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * Serves the page's document from Workers Static Assets (the `ASSETS` binding; wrangler.toml routes
 * these paths to the Worker first) with the policy above. Redirects the assets answer with (`/admin`
 * to `/admin/`) pass through.
 */
export async function adminPage(c: Context<AppEnv>): Promise<Response> {
  const assets = c.env.ASSETS;
  if (!assets) throw new AppError('ROUTE_NOT_FOUND', 'The file library page is not built here: run `node scripts/build-admin.ts` (npm start does).');
  const res = await assets.fetch(c.req.raw);
  const headers = new Headers(res.headers);
  headers.set('Content-Security-Policy', adminPageCsp(new URL(c.req.url).origin, directOffer(c.get('config'))?.bucketOrigin));
  headers.set('X-Content-Type-Options', 'nosniff');
  headers.set('Referrer-Policy', 'no-referrer');
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
}
