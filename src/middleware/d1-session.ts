import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env';

/** The header that carries a D1 session bookmark both ways. */
export const BOOKMARK_HEADER = 'X-D1-Bookmark';

/**
 * Reads go through the D1 Sessions API, so a request far from the primary reads its nearest
 * replica. A client that sends back the `X-D1-Bookmark` of an earlier answer (a write's, say) reads
 * at least what that answer had written; every answer that touched D1 carries the bookmark it
 * reached. Tokens and the settings are read from the primary (a revoked token must stop working at
 * once; the settings are memoised anyway), as is everything the TUS Durable Object does.
 */
export function d1Session() {
  return createMiddleware<AppEnv>(async function d1SessionMiddleware(c, next) {
    const sent = c.req.header(BOOKMARK_HEADER);
    let session: D1DatabaseSession;
    try {
      session = c.env.DB.withSession(sent && /^[\w-]{1,200}$/.test(sent) ? sent : 'first-unconstrained');
    } catch {
      // A bookmark D1 does not understand is no reason to fail the request.
      session = c.env.DB.withSession('first-unconstrained');
    }
    // drizzle's D1 adapter uses only prepare() and batch(), which a session has.
    c.set('db', session as unknown as D1Database);
    await next();
    const bookmark = session.getBookmark();
    if (bookmark) c.res.headers.set(BOOKMARK_HEADER, bookmark);
  });
}

/** A read of the primary, for a record a replica may not have yet (one just created elsewhere). */
export function primary(db: D1Database): D1Database {
  return db.withSession('first-primary') as unknown as D1Database;
}
