import { env } from 'cloudflare:test';
import { exports } from 'cloudflare:workers';
import { inject } from 'vitest';
import type { S3Target } from '../scripts/s3-target-type.ts';
import { parseConfig } from '../src/config';
import { S3Client } from '../src/storage/s3-client';
import { bytes } from './pseudo-random';
export { streamOf } from './streams';

export { bytes };

export const s3: S3Target = JSON.parse(env.TEST_S3);

/** The variables of a location named `name` on the test S3 server, with overrides. */
export function locationVars(name: string, overrides: Record<string, string> = {}): Record<string, string> {
  const p = `STORAGE_${name.toUpperCase()}_`;
  return {
    [`${p}ENDPOINT`]: s3.endpoint,
    [`${p}BUCKET`]: s3.bucket,
    [`${p}KEY`]: s3.accessKeyId,
    [`${p}SECRET`]: s3.secretAccessKey,
    [`${p}REGION`]: s3.region,
    [`${p}FORCE_PATH_STYLE`]: 'true',
    ...Object.fromEntries(Object.entries(overrides).map(([k, v]) => [`${p}${k}`, v])),
  };
}

/** An S3 client for a one-off location on the test server (e.g. with a ROOT or a wrong secret). */
export function testClient(overrides: Record<string, string> = {}): S3Client {
  const config = parseConfig({ STORAGE_LOCATIONS: 't', ...locationVars('t', overrides) });
  return new S3Client(config.defaultLocation);
}

/** A key no other test uses. */
export function uniqueKey(prefix = 'test'): string {
  return `${prefix}/${crypto.randomUUID()}`;
}

export async function sha256(data: ArrayBuffer | Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', data);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}


export const ADMIN_TOKEN = 'test-admin-token-0123456789';

/** A request through the whole Worker, with the admin token unless `token: null`. */
export async function api(path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const token = init.token === undefined ? ADMIN_TOKEN : init.token;
  if (token !== null) headers.set('authorization', `Bearer ${token}`);
  return exports.default.fetch(new Request(`http://assets.test${path}`, { ...init, headers }));
}

/** A stored token of `scope` (made with the admin token), with its id, value and name. */
export async function newToken(scope: 'read' | 'upload' | 'admin', extra: Record<string, unknown> = {}): Promise<{ id: string; token: string; name: string }> {
  const name = `${scope}-${crypto.randomUUID().slice(0, 6)}`;
  const res = await api('/tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, scope, ...extra }) });
  if (res.status !== 200) throw new Error(`token not made: ${res.status} ${await res.text()}`);
  return { ...((await res.json()) as { data: { id: string; token: string } }).data, name };
}

/**
 * HEAD on a final TUS upload (concatenation) until it has an offset — its alarm assembled it — or
 * answers an error: the answer that ended the wait.
 */
export async function untilAssembled(path: string): Promise<Response> {
  for (let i = 0; i < 600; i++) {
    const res = await api(path, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0' } });
    if (res.status !== 200 || res.headers.has('upload-offset')) return res;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${path} never finished`);
}

const base64 = (s: string) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));

/** An Upload-Metadata header (TUS): `key base64(value)` pairs. */
export function tusMetadata(m: Record<string, string>): string {
  return Object.entries(m)
    .map(([k, v]) => `${k} ${base64(v)}`)
    .join(',');
}

export interface UploadPart {
  name: string;
  data: Uint8Array | string;
  type?: string;
}

/** multipart/form-data with `fields` first, then the files (Directus's order). */
export function form(files: UploadPart[], fields: Record<string, string> = {}): FormData {
  const body = new FormData();
  for (const [k, v] of Object.entries(fields)) body.append(k, v);
  for (const f of files) body.append('file', new File([f.data], f.name, { type: f.type ?? 'application/octet-stream' }));
  return body;
}

export async function uploadFile(part: UploadPart, fields: Record<string, string> = {}): Promise<FileJson> {
  const res = await api('/files', { method: 'POST', body: form([part], fields) });
  if (res.status !== 200) throw new Error(`upload failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { data: FileJson }).data;
}

export interface FileJson {
  id: string;
  storage: string;
  filename_disk: string;
  filename_download: string;
  title: string | null;
  type: string | null;
  filesize: string;
  width: number | null;
  height: number | null;
  duration: number | null;
  description: string | null;
  tags: string[] | null;
  location: string | null;
  checksum: string | null;
  access: 'public' | 'private';
  private_hash: string | null;
  folder: string | null;
  uploaded_by: string | null;
  focal_point_x: number | null;
  focal_point_y: number | null;
  metadata: Record<string, unknown> | null;
  created_on: string;
  modified_on: string;
  uploaded_on: string | null;
}

export interface ErrorJson {
  errors: { message: string; extensions: { code: string } }[];
}

export async function errorOf(res: Response): Promise<{ status: number; code: string | undefined; message: string }> {
  const body = (await res.json()) as ErrorJson;
  return { status: res.status, code: body.errors[0]?.extensions.code, message: body.errors[0]?.message ?? '' };
}

/** A committed fixture from test/fixtures (made with ImageMagick and exiftool; see its README). */
export function fixture(name: string): Uint8Array {
  const base64 = inject('fixtures')[name];
  if (base64 === undefined) throw new Error(`no fixture ${name}`);
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}
