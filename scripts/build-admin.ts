/**
 * Builds the file library page into dist/site (Workers Static Assets, `[assets]` in wrangler.toml):
 * admin/index.html, and admin/app.ts with Uppy and the CSS bundled and minified by esbuild. Run by
 * wrangler's `[build]` before `wrangler dev` and `wrangler deploy`, and by `npm test`. The `_headers`
 * file gives the page its strict Content-Security-Policy: everything from this origin, images also
 * from blob: (private thumbnails are object URLs), no inline script, no framing.
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
const csp = ["default-src 'self'", "img-src 'self' blob: data:", "style-src 'self'", "script-src 'self'", "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'"].join('; ');
writeFileSync(join(root, 'dist', 'site', '_headers'), `/admin/*\n  Content-Security-Policy: ${csp}\n  X-Content-Type-Options: nosniff\n  Referrer-Policy: no-referrer\n`);
