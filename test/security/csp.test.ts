import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { app } from '../../src/app';
import { api, uploadFile } from '../helpers';

/**
 * The file library page's Content-Security-Policy cannot be satisfied by an upload: scripts and
 * styles only from `<origin>/admin/`, never `'self'`, which also covers /assets on the same origin.
 * Sources are matched as CSP Level 3 does (§6.7.2.8): scheme, host, port, then a path that is a
 * prefix when it ends with `/`, else exact.
 */
const page = '<!doctype html><title>File library</title>';
const assets = { fetch: async () => new Response(page, { headers: { 'content-type': 'text/html' } }) };

async function policyAt(url: string): Promise<Map<string, string[]>> {
  const res = await app.request(url, {}, { ...env, ASSETS: assets });
  expect(res.status, await res.clone().text()).toBe(200);
  expect(await res.text()).toBe(page);
  const header = res.headers.get('content-security-policy') ?? '';
  return new Map(header.split(';').map((d) => d.trim().split(/\s+/)).filter((t) => t[0]).map(([name = '', ...sources]) => [name, sources]));
}

/** Whether `source` (one source expression) allows `url` on a page at `origin`. */
function allows(source: string, url: URL, origin: URL): boolean {
  if (source === "'self'") return url.origin === origin.origin;
  if (source === '*') return true;
  if (/^[a-z][a-z0-9+.-]*:$/i.test(source)) return url.protocol === source.toLowerCase();
  if (source.startsWith("'")) return false;
  const m = /^(?:([a-z][a-z0-9+.-]*):\/\/)?([^/:]+)(?::(\d+|\*))?(\/.*)?$/i.exec(source);
  if (!m) return false;
  const [, scheme, host = '', port, path] = m;
  if (scheme && `${scheme.toLowerCase()}:` !== url.protocol) return false;
  if (host.startsWith('*.') ? !url.hostname.endsWith(host.slice(1)) : host.toLowerCase() !== url.hostname) return false;
  if (port !== '*' && (port ?? (url.protocol === 'https:' ? '443' : '80')) !== (url.port || (url.protocol === 'https:' ? '443' : '80'))) return false;
  if (!path) return true;
  const decoded = decodeURIComponent(url.pathname);
  return path.endsWith('/') ? decoded.startsWith(path) : decoded === path;
}

/** The sources a fetch of `directive` is judged by (its own, else default-src). */
const sourcesFor = (policy: Map<string, string[]>, directive: string) => policy.get(directive) ?? policy.get('default-src') ?? [];

describe("the page's policy trusts its own files, never an upload", () => {
  const origins = ['http://127.0.0.1:8787', 'https://assets.example.com', 'http://localhost:8787'];
  for (const origin of origins) {
    for (const path of ['/admin/', '/admin', '/admin/index.html']) {
      it(`${origin}${path}: scripts and styles only from /admin/`, async () => {
        const at = new URL(`${origin}${path}`);
        const policy = await policyAt(at.href);
        const uploads = ['/assets/0b0f7c2e-1c3a-4a4e-9d59-2b8f1f6f3a10', '/assets/0b0f7c2e-1c3a-4a4e-9d59-2b8f1f6f3a10.js', '/assets/x?download', '/files/import', '/server/specs/oas', '/admin', '/adminx/app.js'];
        for (const directive of ['script-src', 'style-src', 'worker-src', 'frame-src', 'object-src', 'font-src', 'media-src', 'manifest-src']) {
          const sources = sourcesFor(policy, directive);
          expect(sources, directive).not.toContain("'self'");
          expect(sources.some((s) => /unsafe|^\*$|^https?:$|^data:$/.test(s)), `${directive}: ${sources.join(' ')}`).toBe(false);
          // Players and the PDF viewer show object URLs the page made (their type forced from the record); nothing else takes blob:.
          expect(sources.includes('blob:'), `${directive}: ${sources.join(' ')}`).toBe(directive === 'media-src' || directive === 'frame-src');
          for (const upload of uploads) expect(sources.some((s) => allows(s, new URL(upload, at), at)), `${directive} allows ${upload}`).toBe(false);
        }
        for (const own of ['/admin/app.js', '/admin/app.css']) {
          expect(sourcesFor(policy, directiveOf(own)).some((s) => allows(s, new URL(own, at), at)), own).toBe(true);
        }
        expect(policy.get('frame-ancestors')).toEqual(["'none'"]);
        expect(policy.get('base-uri')).toEqual(["'none'"]);
      });
    }
  }
});

const directiveOf = (path: string) => (path.endsWith('.css') ? 'style-src' : 'script-src');

describe('no spelling of an upload URL is both allowed by the policy and served as the upload', () => {
  const origin = new URL('http://127.0.0.1:8787/admin/');
  for (const path of ['/admin/..%2Fassets/ID', '/admin/%2e%2e/assets/ID', '/admin/.%2e/assets/ID', '/admin/..%2fassets/ID', '/admin/%2E%2E%2Fassets/ID', '/admin//assets/ID', '/admin/../assets/ID']) {
    it(path, async () => {
      const file = await uploadFile({ name: 'evil.js', data: 'parent.postMessage("pwned","*")', type: 'text/javascript' });
      // Where a browser would fetch it from (the URL parser resolves dot segments), and whether the policy lets it run.
      const resolved = new URL(path.replace('ID', file.id), origin);
      const policy = await policyAt(origin.href);
      if (!sourcesFor(policy, 'script-src').some((s) => allows(s, resolved, origin))) return;
      const res = await api(`${resolved.pathname}${resolved.search}`, { token: null });
      expect(await res.text()).not.toContain('pwned');
    });
  }
});
