/**
 * The file library page (`/admin`): a client of the public API only (`/tokens/me`, `/files`,
 * `/files/tus`, `/assets`, `/settings`), so it is also an example of using it. The token lives in
 * this tab's session storage, never in a URL; private thumbnails are fetched with it and shown as
 * object URLs. Uploads are Uppy's Dashboard over TUS (resumable, with pause and resume).
 */
import Uppy from '@uppy/core';
import Dashboard from '@uppy/dashboard';
import Tus from '@uppy/tus';
import '@uppy/core/css/style.min.css';
import '@uppy/dashboard/css/style.min.css';
import './app.css';

type Scope = 'read' | 'upload' | 'admin';
interface Me { name: string; scope: Scope; expires_on: string | null }
interface FileJson {
  id: string;
  filename_download: string;
  title: string | null;
  description: string | null;
  tags: string[] | null;
  type: string | null;
  filesize: number;
  width: number | null;
  height: number | null;
  checksum: string | null;
  uploaded_by: string | null;
  uploaded_on: string | null;
  access: 'public' | 'private';
  focal_point_x: number | null;
  focal_point_y: number | null;
  metadata: Record<string, unknown> | null;
  location: unknown;
}
interface Preset { key: string; fit?: string; width?: number; height?: number; quality?: number; format?: string; withoutEnlargement?: boolean; transforms?: unknown[] }

const TOKEN_KEY = 'edge-assets-token';
const PAGE = 24;
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const rank: Record<Scope, number> = { read: 1, upload: 2, admin: 3 };

let token = sessionStorage.getItem(TOKEN_KEY) ?? '';
let me: Me | undefined;
let offset = 0;
let uppy: Uppy | undefined;
/** Object URLs of the thumbnails on screen, revoked when the grid is redrawn. */
const objectUrls = new Set<string>();

class ApiError extends Error {}

/** The API with this tab's token; an error answer becomes its envelope's message. */
async function api(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  const res = await fetch(path, { ...init, headers });
  if (!res.ok) {
    const body = (await res.json().catch(() => undefined)) as { errors?: { message?: string }[] } | undefined;
    throw new ApiError(body?.errors?.[0]?.message ?? `${res.status} ${res.statusText}`);
  }
  return res;
}
const json = async <T>(path: string, init?: RequestInit) => ((await (await api(path, init)).json()) as { data: T }).data;

/** An /assets URL fetched with the token, as an object URL (private files cannot be a plain src). */
async function assetUrl(path: string): Promise<string> {
  const url = URL.createObjectURL(await (await api(path)).blob());
  objectUrls.add(url);
  return url;
}

function size(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let n = bytes;
  let u = 0;
  while (n >= 1000 && u < units.length - 1) {
    n /= 1000;
    u++;
  }
  return `${u === 0 ? n : n.toFixed(1)} ${units[u]}`;
}

/** What stands for a file without a thumbnail: its extension (or its kind), in text every font has. */
function badge(file: FileJson): string {
  const ext = /\.([a-z0-9]{1,5})$/i.exec(file.filename_download)?.[1];
  return (ext ?? (file.type ?? 'file').split('/')[0] ?? 'file').toUpperCase();
}

// ---------------------------------------------------------------- sign in

async function signIn(candidate: string): Promise<void> {
  token = candidate;
  me = await json<Me>('/tokens/me');
  sessionStorage.setItem(TOKEN_KEY, token);
  $('signin').hidden = true;
  $('library').hidden = false;
  $('who').textContent = `${me.name} · ${me.scope}${me.expires_on ? ` · until ${new Date(me.expires_on).toLocaleString()}` : ''}`;
  $('nav-settings').hidden = rank[me.scope] < rank.admin;
  $('uploader').hidden = rank[me.scope] < rank.upload;
  if (rank[me.scope] >= rank.upload) startUploader();
  await loadFolders();
  route();
}

function signOut(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  token = '';
  me = undefined;
  uppy?.destroy();
  uppy = undefined;
  for (const url of objectUrls) URL.revokeObjectURL(url);
  objectUrls.clear();
  $('grid').replaceChildren();
  $('library').hidden = true;
  $('signin').hidden = false;
  $<HTMLInputElement>('token').value = '';
  $<HTMLInputElement>('token').focus();
}

// ---------------------------------------------------------------- files

/** Each listing started; an answer to an older one (a search typed on, a filter changed) is dropped. */
let listing = 0;

async function loadFiles(reset: boolean): Promise<void> {
  const mine = ++listing;
  if (reset) offset = 0;
  const params = new URLSearchParams({ sort: '-uploaded_on', limit: String(PAGE), offset: String(offset), meta: 'filter_count' });
  const search = $<HTMLInputElement>('search').value.trim();
  if (search) params.set('search', search);
  const type = $<HTMLSelectElement>('type-filter').value;
  const folder = $<HTMLSelectElement>('folder-filter').value;
  const filters = [...(type ? [{ type: { _starts_with: type } }] : []), ...(folder ? [{ folder: { _eq: folder } }] : [])];
  if (filters.length > 0) params.set('filter', JSON.stringify({ _and: filters }));
  $('files-error').textContent = '';
  try {
    const body = (await (await api(`/files?${params}`)).json()) as { data: FileJson[]; meta?: { filter_count?: number } };
    if (mine !== listing) return;
    if (reset) {
      for (const url of objectUrls) URL.revokeObjectURL(url);
      objectUrls.clear();
      $('grid').replaceChildren();
    }
    for (const file of body.data) $('grid').append(card(file));
    offset += body.data.length;
    const total = body.meta?.filter_count ?? offset;
    $('count').textContent = `${total} file${total === 1 ? '' : 's'}`;
    $('more').hidden = offset >= total;
  } catch (error) {
    $('files-error').textContent = (error as Error).message;
  }
}

function card(file: FileJson): HTMLLIElement {
  const li = document.createElement('li');
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'card';
  button.setAttribute('aria-label', `${file.title || file.filename_download} (${file.filename_download}), ${file.type ?? 'unknown type'}, ${size(file.filesize)}`);
  const thumb = document.createElement('div');
  thumb.className = 'thumb';
  if (file.type?.startsWith('image/') && file.width) {
    const img = document.createElement('img');
    img.alt = '';
    img.dataset.fileId = file.id;
    thumb.append(img);
    assetUrl(`/assets/${file.id}?key=system-medium-cover`).then((url) => (img.src = url), () => (thumb.textContent = badge(file)));
  } else {
    thumb.textContent = badge(file);
  }
  const name = document.createElement('span');
  name.className = 'name';
  name.textContent = file.title || file.filename_download;
  const facts = document.createElement('span');
  facts.className = 'facts';
  facts.textContent = `${file.filename_download} · ${file.type ?? 'unknown'} · ${size(file.filesize)}`;
  button.append(thumb, name, facts);
  button.addEventListener('click', () => void openDetails(file.id));
  li.append(button);
  return li;
}

/** The folder filter's choices: every folder as its path from the root. */
async function loadFolders(): Promise<void> {
  const folders = await json<{ id: string; name: string; parent: string | null }[]>('/folders?limit=500').catch(() => []);
  const byId = new Map(folders.map((f) => [f.id, f]));
  const path = (f: { name: string; parent: string | null }, depth = 0): string => {
    const parent = f.parent ? byId.get(f.parent) : undefined;
    return parent && depth < 32 ? `${path(parent, depth + 1)} / ${f.name}` : f.name;
  };
  const select = $<HTMLSelectElement>('folder-filter');
  select.replaceChildren(new Option('All folders', ''), ...folders.map((f) => [f.id, path(f)] as const).sort((a, b) => a[1].localeCompare(b[1])).map(([id, p]) => new Option(p, id)));
}

function startUploader(): void {
  if (uppy) return;
  uppy = new Uppy({ autoProceed: false })
    .use(Dashboard, { inline: true, target: '#uploader', height: 300, width: '100%', proudlyDisplayPoweredByUppy: false, hideProgressDetails: false, theme: 'auto' })
    // Chunks of 8 MiB: well under every platform's request body cap; parts are cut server-side.
    .use(Tus, { endpoint: '/files/tus', chunkSize: 8 * 1024 * 1024, headers: () => ({ authorization: `Bearer ${token}` }), allowedMetaFields: ['name', 'type'], removeFingerprintOnSuccess: true });
  // Finished files move to the grid; the Dashboard is emptied for the next ones (failed ones stay, to retry).
  uppy.on('complete', (result) => {
    void loadFiles(true);
    if ((result.failed ?? []).length === 0) uppy?.clear();
  });
}

// ---------------------------------------------------------------- details

let current: FileJson | undefined;

async function openDetails(id: string): Promise<void> {
  current = await json<FileJson>(`/files/${id}`);
  const f = current;
  $('details-title').textContent = f.title || f.filename_download;
  const facts: [string, string][] = [
    ['Name', f.filename_download],
    ['Type', f.type ?? 'unknown'],
    ['Size', size(f.filesize)],
    ['Dimensions', f.width && f.height ? `${f.width} × ${f.height}` : '—'],
    ['Checksum (SHA-256)', f.checksum ?? '—'],
    ['Uploaded by', f.uploaded_by ?? '—'],
    ['Uploaded on', f.uploaded_on ? new Date(f.uploaded_on).toLocaleString() : '—'],
    ['Access', f.access],
    ['Location', f.location ? JSON.stringify(f.location) : '—'],
  ];
  $('details-facts').replaceChildren(...facts.flatMap(([k, v]) => [Object.assign(document.createElement('dt'), { textContent: k }), Object.assign(document.createElement('dd'), { textContent: v })]));
  $<HTMLInputElement>('f-title').value = f.title ?? '';
  $<HTMLTextAreaElement>('f-description').value = f.description ?? '';
  $<HTMLInputElement>('f-tags').value = (f.tags ?? []).join(', ');
  $<HTMLInputElement>('f-private').checked = f.access === 'private';
  $('details-metadata').textContent = JSON.stringify(f.metadata ?? {}, null, 2);
  $('details-output').textContent = '';
  const admin = rank[me?.scope ?? 'read'] >= rank.admin;
  for (const id of ['delete', 'rotate-hash', 'sign', 'replace']) ($(id) as HTMLButtonElement).disabled = !admin;
  for (const el of $('details-form').querySelectorAll<HTMLInputElement>('input, textarea, button')) el.disabled = !admin;
  await showPreviews(f);
  $<HTMLDialogElement>('details').showModal();
}

async function showPreviews(f: FileJson): Promise<void> {
  const preview = $<HTMLImageElement>('details-preview');
  const crop = $<HTMLImageElement>('details-crop');
  // Never the previous file's pictures while this one's load.
  if (preview.dataset.fileId !== f.id) preview.removeAttribute('src');
  preview.dataset.fileId = f.id;
  const image = f.type?.startsWith('image/') && f.width;
  preview.hidden = crop.hidden = !image;
  if (!image) return;
  preview.alt = `Preview of ${f.filename_download}`;
  preview.src = await assetUrl(`/assets/${f.id}?key=system-large-contain`);
  // The cover crop follows the focal point (a new URL after each change: the ETag carries it).
  crop.src = await assetUrl(`/assets/${f.id}?key=system-medium-cover&v=${f.focal_point_x ?? ''}-${f.focal_point_y ?? ''}`);
}

function say(message: string): void {
  $('details-output').textContent = message;
}

async function act(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    say((error as Error).message);
  }
}

async function saveDetails(event: Event): Promise<void> {
  event.preventDefault();
  if (!current) return;
  const tags = $<HTMLInputElement>('f-tags').value.split(',').map((t) => t.trim()).filter(Boolean);
  current = await json<FileJson>(`/files/${current.id}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ title: $<HTMLInputElement>('f-title').value, description: $<HTMLTextAreaElement>('f-description').value, tags, access: $<HTMLInputElement>('f-private').checked ? 'private' : 'public' }),
  });
  $('details-title').textContent = current.title || current.filename_download;
  say('Saved.');
  await loadFiles(true);
}

async function deleteCurrent(): Promise<void> {
  if (!current || !confirm(`Delete "${current.filename_download}"? This cannot be undone.`)) return;
  await api(`/files/${current.id}`, { method: 'DELETE' });
  $<HTMLDialogElement>('details').close();
  await loadFiles(true);
}

async function setFocalPoint(event: MouseEvent): Promise<void> {
  if (!current?.width || !current.height || rank[me?.scope ?? 'read'] < rank.admin) return;
  const img = event.currentTarget as HTMLImageElement;
  const box = img.getBoundingClientRect();
  const x = Math.round(((event.clientX - box.left) / box.width) * current.width);
  const y = Math.round(((event.clientY - box.top) / box.height) * current.height);
  current = await json<FileJson>(`/files/${current.id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ focal_point_x: x, focal_point_y: y }) });
  say(`Focal point set at ${x}, ${y}.`);
  await showPreviews(current);
}

async function download(): Promise<void> {
  if (!current) return;
  const a = Object.assign(document.createElement('a'), { href: await assetUrl(`/assets/${current.id}?download`), download: current.filename_download });
  a.click();
}

async function sign(): Promise<void> {
  if (!current) return;
  const { url } = await json<{ url: string }>(`/files/${current.id}/sign?expires_in=${$<HTMLSelectElement>('sign-expiry').value}`);
  say(url);
}

async function replace(event: Event): Promise<void> {
  const input = event.currentTarget as HTMLInputElement;
  const file = input.files?.[0];
  if (!current || !file) return;
  const body = new FormData();
  body.append('file', file, file.name);
  current = await json<FileJson>(`/files/${current.id}`, { method: 'PATCH', body });
  input.value = '';
  say('Replaced.');
  await openDetails(current.id);
  await loadFiles(true);
}

// ---------------------------------------------------------------- settings

async function loadSettings(): Promise<void> {
  // Nothing can be changed until what is saved is on screen (a choice made before would be overwritten).
  $<HTMLFieldSetElement>('settings-fields').disabled = true;
  const s = await json<{ storage_asset_transform: string; storage_asset_presets: Preset[] | null }>('/settings');
  $<HTMLSelectElement>('mode').value = s.storage_asset_transform;
  $('presets').replaceChildren(...(s.storage_asset_presets ?? []).map(presetRow));
  $<HTMLFieldSetElement>('settings-fields').disabled = false;
  await refreshPreviewChoices();
}

function presetRow(p: Preset = { key: '' }): HTMLTableRowElement {
  const tr = document.createElement('tr');
  const cell = (name: string, control: HTMLInputElement | HTMLSelectElement) => {
    control.name = name;
    control.setAttribute('aria-label', name);
    const td = document.createElement('td');
    td.append(control);
    tr.append(td);
  };
  const input = (type: string, value: string | number | undefined) => Object.assign(document.createElement('input'), { type, value: value === undefined ? '' : String(value) });
  const select = (options: string[], value: string | undefined) => {
    const s = document.createElement('select');
    for (const o of ['', ...options]) s.append(new Option(o || '—', o, false, o === (value ?? '')));
    return s;
  };
  cell('Key', input('text', p.key));
  cell('Fit', select(['cover', 'contain', 'inside', 'outside'], p.fit));
  cell('Width', input('number', p.width));
  cell('Height', input('number', p.height));
  cell('Quality', input('number', p.quality));
  cell('Format', select(['jpg', 'png', 'webp', 'avif', 'auto'], p.format));
  const enlarge = input('checkbox', undefined);
  enlarge.checked = p.withoutEnlargement ?? false;
  cell('Without enlargement', enlarge);
  cell('Transforms', input('text', p.transforms ? JSON.stringify(p.transforms) : ''));
  const remove = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Remove' });
  remove.addEventListener('click', () => {
    tr.remove();
    refreshPreviewChoices();
  });
  const td = document.createElement('td');
  td.append(remove);
  tr.append(td);
  return tr;
}

function presetsFromForm(): Preset[] {
  return [...$('presets').querySelectorAll('tr')].map((tr) => {
    const v = (name: string) => (tr.querySelector(`[name="${name}"]`) as HTMLInputElement).value.trim();
    const n = (name: string) => (v(name) === '' ? undefined : Number(v(name)));
    const p: Preset = { key: v('Key') };
    if (v('Fit')) p.fit = v('Fit');
    if (n('Width') !== undefined) p.width = n('Width');
    if (n('Height') !== undefined) p.height = n('Height');
    if (n('Quality') !== undefined) p.quality = n('Quality');
    if (v('Format')) p.format = v('Format');
    if ((tr.querySelector('[name="Without enlargement"]') as HTMLInputElement).checked) p.withoutEnlargement = true;
    if (v('Transforms')) p.transforms = JSON.parse(v('Transforms')) as unknown[];
    return p;
  });
}

async function saveSettings(event: Event): Promise<void> {
  event.preventDefault();
  try {
    await json('/settings', {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ storage_asset_transform: $<HTMLSelectElement>('mode').value, storage_asset_presets: presetsFromForm() }),
    });
    $('settings-status').textContent = 'Settings saved.';
    await loadSettings();
  } catch (error) {
    $('settings-status').textContent = error instanceof SyntaxError ? `Transforms must be JSON: ${error.message}` : (error as Error).message;
  }
}

async function refreshPreviewChoices(): Promise<void> {
  const presets = $<HTMLSelectElement>('preview-preset');
  presets.replaceChildren(...presetsFromForm().filter((p) => p.key).map((p) => new Option(p.key, p.key)));
  const files = $<HTMLSelectElement>('preview-file');
  if (files.options.length === 0) {
    const images = await json<FileJson[]>(`/files?limit=20&sort=-uploaded_on&filter=${encodeURIComponent(JSON.stringify({ type: { _starts_with: 'image/' } }))}`).catch(() => []);
    files.replaceChildren(...images.map((f) => new Option(f.title || f.filename_download, f.id)));
  }
  await showPresetPreview();
}

async function showPresetPreview(): Promise<void> {
  const file = $<HTMLSelectElement>('preview-file').value;
  const key = $<HTMLSelectElement>('preview-preset').value;
  const img = $<HTMLImageElement>('preview-image');
  img.hidden = !file || !key;
  // Saved presets only: the preview is what /assets answers for this key now.
  if (file && key) img.src = await assetUrl(`/assets/${file}?key=${encodeURIComponent(key)}`).catch(() => '');
}

// ---------------------------------------------------------------- routing and wiring

function route(): void {
  if (!me) return;
  const settings = location.hash === '#settings' && rank[me.scope] >= rank.admin;
  $('settings-view').hidden = !settings;
  $('files-view').hidden = settings;
  $('nav-files').toggleAttribute('aria-current', !settings);
  $('nav-settings').toggleAttribute('aria-current', settings);
  if (settings) void loadSettings();
  else void loadFiles(true);
}

let searchTimer: ReturnType<typeof setTimeout> | undefined;

document.addEventListener('DOMContentLoaded', () => {
  $('signin-form').addEventListener('submit', (event) => {
    event.preventDefault();
    $('signin-error').textContent = '';
    signIn($<HTMLInputElement>('token').value.trim()).catch((error: Error) => {
      token = '';
      $('signin-error').textContent = error.message;
    });
  });
  $('signout').addEventListener('click', signOut);
  $('search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => void loadFiles(true), 250);
  });
  $('type-filter').addEventListener('change', () => void loadFiles(true));
  $('folder-filter').addEventListener('change', () => void loadFiles(true));
  $('more').addEventListener('click', () => void loadFiles(false));
  $('details-form').addEventListener('submit', (e) => void act(() => saveDetails(e)));
  $('delete').addEventListener('click', () => void act(deleteCurrent));
  $('details-preview').addEventListener('click', (e) => void act(() => setFocalPoint(e as MouseEvent)));
  $('download').addEventListener('click', () => void act(download));
  $('copy-url').addEventListener('click', () => void act(async () => {
    if (!current) return;
    const url = `${location.origin}/assets/${current.id}`;
    await navigator.clipboard.writeText(url).catch(() => undefined);
    say(url);
  }));
  $('sign').addEventListener('click', () => void act(sign));
  $('rotate-hash').addEventListener('click', () => void act(async () => {
    if (!current) return;
    await api(`/files/${current.id}/rotate-hash`, { method: 'POST' });
    say('The private hash was rotated: old private links no longer work.');
  }));
  $('replace').addEventListener('change', (e) => void act(() => replace(e)));
  $('settings-form').addEventListener('submit', (e) => void saveSettings(e));
  $('add-preset').addEventListener('click', () => $('presets').append(presetRow()));
  $('preview-file').addEventListener('change', () => void showPresetPreview());
  $('preview-preset').addEventListener('change', () => void showPresetPreview());
  window.addEventListener('hashchange', route);
  if (token) void signIn(token).catch(signOut);
});
