/**
 * Builds the file library page into dist/site (Workers Static Assets, `[assets]` in wrangler.toml):
 * admin/index.html, and admin/app.ts with Uppy and the CSS bundled and minified by esbuild. Run by
 * wrangler's `[build]` before `wrangler dev` and `wrangler deploy`, and by `npm test`. The page's own
 * Content-Security-Policy is set by the Worker, per origin (src/routes/admin-page.ts); the `_headers`
 * file gives every other file under /admin/ nosniff and a policy that allows nothing, so a document
 * served here without the Worker fails closed.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'site', 'admin');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(root, 'admin', 'app.ts')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  outfile: join(out, 'app.js'),
  logLevel: 'warning',
});
copyFileSync(join(root, 'admin', 'index.html'), join(out, 'index.html'));
writeFileSync(join(root, 'dist', 'site', '_headers'), `/admin/*\n  Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\n  X-Content-Type-Options: nosniff\n  Referrer-Policy: no-referrer\n`);
