/**
 * The page's one way to the API: this tab's token on every request, an error answer turned into its
 * envelope's message (so it can be shown as is), and /assets answers as object URLs (a private file
 * cannot be a plain `src`). Also the records' shapes and the small formatting every view shares.
 */

export type Scope = 'read' | 'upload' | 'admin';
export interface Me { name: string; scope: Scope; expires_on: string | null }
export interface Folder { id: string; name: string; parent: string | null }
export interface FileJson {
  id: string;
  filename_download: string;
  title: string | null;
  description: string | null;
  tags: string[] | null;
  type: string | null;
  filesize: number | string;
  width: number | null;
  height: number | null;
  checksum: string | null;
  /** A ThumbHash of the image (base64), shown while its thumbnail loads. */
  thumbhash?: string | null;
  folder: string | null;
  uploaded_by: string | null;
  uploaded_on: string | null;
  access: 'public' | 'private';
  focal_point_x: number | null;
  focal_point_y: number | null;
  metadata: Record<string, unknown> | null;
  location: unknown;
}

const TOKEN_KEY = 'edge-assets-token';
const rank: Record<Scope, number> = { read: 1, upload: 2, admin: 3 };

export const session = {
  token: sessionStorage.getItem(TOKEN_KEY) ?? '',
  me: undefined as Me | undefined,
  remember(): void {
    sessionStorage.setItem(TOKEN_KEY, this.token);
  },
  forget(): void {
    sessionStorage.removeItem(TOKEN_KEY);
    this.token = '';
    this.me = undefined;
  },
  /** Whether the signed-in token's scope covers `scope`. */
  may(scope: Scope): boolean {
    return rank[this.me?.scope ?? 'read'] >= rank[scope] && this.me !== undefined;
  },
};

export class ApiError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

/** The API with this tab's token; an error answer becomes an ApiError carrying its envelope's message. */
export async function api(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${session.token}`);
  if (typeof init.body === 'string') headers.set('content-type', 'application/json');
  const res = await fetch(path, { ...init, headers });
  if (!res.ok) {
    const body = (await res.json().catch(() => undefined)) as { errors?: { message?: string }[] } | undefined;
    throw new ApiError(body?.errors?.[0]?.message ?? `${res.status} ${res.statusText}`, res.status);
  }
  return res;
}

export const json = async <T>(path: string, init?: RequestInit): Promise<T> => ((await (await api(path, init)).json()) as { data: T }).data;

/** JSON bodies for PATCH/POST/DELETE. */
export const send = (method: string, body: unknown): RequestInit => ({ method, body: JSON.stringify(body) });

/** Object URLs handed out, by who holds them (thumbnails, preview, …), so each can let go of its own. */
const objectUrls = new Map<string, string[]>();

/** An /assets answer fetched with the token, as an object URL held by `group`; `type` forces the blob's type. */
export async function assetUrl(path: string, group: string, type?: string): Promise<string> {
  const res = await api(path);
  const blob = type ? new Blob([await res.arrayBuffer()], { type }) : await res.blob();
  const url = URL.createObjectURL(blob);
  objectUrls.set(group, [...(objectUrls.get(group) ?? []), url]);
  return url;
}

/** Revokes the object URLs `group` holds (every group's when none is named: signing out). */
export function revokeUrls(group?: string): void {
  for (const [g, urls] of objectUrls) {
    if (group !== undefined && g !== group) continue;
    for (const url of urls) URL.revokeObjectURL(url);
    objectUrls.delete(g);
  }
}

/** The message of whatever went wrong, for a person. */
export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

/** An element with its text and attributes: most of the page is built from these. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> & { attrs?: Record<string, string> } = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const { attrs, ...rest } = props;
  const node = Object.assign(document.createElement(tag), rest);
  for (const [k, v] of Object.entries(attrs ?? {})) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

export function size(bytes: number | string): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let n = Number(bytes);
  let u = 0;
  while (n >= 1000 && u < units.length - 1) {
    n /= 1000;
    u++;
  }
  return `${u === 0 ? n : n.toFixed(1)} ${units[u]}`;
}

export const titleOf = (f: FileJson): string => f.title || f.filename_download;

/** What stands for a file without a picture: its extension (or its kind), in text every font has. */
export function badge(file: FileJson): string {
  const ext = /\.([a-z0-9]{1,5})$/i.exec(file.filename_download)?.[1];
  return (ext ?? (file.type ?? 'file').split('/')[0] ?? 'file').toUpperCase();
}

export const dimensions = (f: FileJson): string => (f.width && f.height ? `${f.width} × ${f.height}` : '—');
export const date = (iso: string | null): string => (iso ? new Date(iso).toLocaleString() : '—');

/** Images the engine makes thumbnails of; SVG is shown as itself. */
export const isRaster = (f: FileJson): boolean => Boolean(f.type?.startsWith('image/') && f.type !== 'image/svg+xml' && f.width);
