/**
 * A file's details dialog: it opens as soon as the record is read, whatever its preview then does.
 * Facts, the editable fields, move, download, replace, signed URLs, the private hash, delete; and on
 * images the focal point, set by clicking the picture. Each action's outcome is said beside it.
 */
import { $, api, assetUrl, date, dimensions, el, type FileJson, json, messageOf, send, session, size, titleOf } from './api';
import { askFolder } from './ask';
import { loadFiles, moveFiles, status } from './files-view';
import { folderChoices, pathOf } from './folders';
import { clearPreview, kindOf, showPreview } from './preview';

let current: FileJson | undefined;

function say(message: string): void {
  $('details-output').textContent = message;
}

async function act(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    say(messageOf(error));
  }
}

function showFacts(f: FileJson): void {
  const facts: [string, string][] = [
    ['Name', f.filename_download],
    ['Type', f.type ?? 'unknown'],
    ['Size', size(f.filesize)],
    ['Dimensions', dimensions(f)],
    ['Folder', f.folder ? pathOf(f.folder) || 'a folder' : 'All files (none)'],
    ['Uploaded', `${date(f.uploaded_on)}${f.uploaded_by ? ` by ${f.uploaded_by}` : ''}`],
    ['Access', f.access],
    ['Checksum (SHA-256)', f.checksum ?? '—'],
    ['Location', f.location ? JSON.stringify(f.location) : '—'],
  ];
  $('details-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', { textContent: k }), el('dd', { textContent: v })]));
  $('details-title').textContent = titleOf(f);
}

export async function openDetails(id: string): Promise<void> {
  let f: FileJson;
  try {
    f = await json<FileJson>(`/files/${id}`);
  } catch (error) {
    status(`That file could not be opened: ${messageOf(error)}`);
    return;
  }
  current = f;
  showFacts(f);
  $<HTMLInputElement>('f-title').value = f.title ?? '';
  $<HTMLTextAreaElement>('f-description').value = f.description ?? '';
  $<HTMLInputElement>('f-tags').value = (f.tags ?? []).join(', ');
  $<HTMLInputElement>('f-private').checked = f.access === 'private';
  $('details-metadata').textContent = JSON.stringify(f.metadata ?? {}, null, 2);
  say('');
  const admin = session.may('admin');
  for (const node of $('details').querySelectorAll<HTMLInputElement>('[data-admin]')) node.disabled = !admin;
  $('focal-hint').hidden = !(admin && kindOf(f) === 'image');
  const dialog = $<HTMLDialogElement>('details');
  if (!dialog.open) dialog.showModal();
  await showPreview(f, $('details-media'), $<HTMLImageElement>('details-preview'), $<HTMLImageElement>('details-crop'));
}

async function refresh(f: FileJson, message: string): Promise<void> {
  current = f;
  showFacts(f);
  say(message);
  await loadFiles();
}

async function save(event: Event): Promise<void> {
  event.preventDefault();
  if (!current) return;
  const tags = $<HTMLInputElement>('f-tags').value.split(',').map((t) => t.trim()).filter(Boolean);
  const body = { title: $<HTMLInputElement>('f-title').value, description: $<HTMLTextAreaElement>('f-description').value, tags, access: $<HTMLInputElement>('f-private').checked ? 'private' : 'public' };
  await refresh(await json<FileJson>(`/files/${current.id}`, send('PATCH', body)), 'Saved.');
}

async function remove(): Promise<void> {
  if (!current || !confirm(`Delete "${current.filename_download}"? This cannot be undone.`)) return;
  await api(`/files/${current.id}`, { method: 'DELETE' });
  $<HTMLDialogElement>('details').close();
  await loadFiles();
}

async function move(): Promise<void> {
  if (!current) return;
  const target = await askFolder(`Move "${titleOf(current)}" to…`, folderChoices(), current.folder);
  if (target === undefined) return;
  await moveFiles([current.id], target || null);
  await refresh(await json<FileJson>(`/files/${current.id}`), `Moved to ${target ? pathOf(target) : 'All files'}.`);
}

async function setFocalPoint(event: MouseEvent): Promise<void> {
  if (!current?.width || !current.height || !session.may('admin')) return;
  const img = event.currentTarget as HTMLImageElement;
  const box = img.getBoundingClientRect();
  const x = Math.round(((event.clientX - box.left) / box.width) * current.width);
  const y = Math.round(((event.clientY - box.top) / box.height) * current.height);
  current = await json<FileJson>(`/files/${current.id}`, send('PATCH', { focal_point_x: x, focal_point_y: y }));
  say(`Focal point set at ${x}, ${y}.`);
  await showPreview(current, $('details-media'), $<HTMLImageElement>('details-preview'), $<HTMLImageElement>('details-crop'));
}

async function download(): Promise<void> {
  if (!current) return;
  const href = await assetUrl(`/assets/${current.id}?download`, 'download');
  el('a', { href, download: current.filename_download }).click();
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
  say(`Replacing with ${file.name}…`);
  const replaced = await json<FileJson>(`/files/${current.id}`, { method: 'PATCH', body });
  input.value = '';
  await openDetails(replaced.id);
  say('Replaced.');
  await loadFiles();
}

export function initDetails(): void {
  const on = (id: string, type: string, fn: (e: Event) => Promise<void>) => $(id).addEventListener(type, (e) => void act(() => fn(e)));
  on('details-form', 'submit', save);
  on('delete', 'click', remove);
  on('move-file', 'click', move);
  on('details-preview', 'click', (e) => setFocalPoint(e as MouseEvent));
  on('download', 'click', download);
  on('sign', 'click', sign);
  on('replace', 'change', replace);
  on('copy-url', 'click', async () => {
    if (!current) return;
    const url = `${location.origin}/assets/${current.id}`;
    await navigator.clipboard.writeText(url).catch(() => undefined);
    say(`Copied: ${url}`);
  });
  on('rotate-hash', 'click', async () => {
    if (!current) return;
    await api(`/files/${current.id}/rotate-hash`, { method: 'POST' });
    say('The private hash was rotated: old private links no longer work.');
  });
  $('details').addEventListener('close', () => {
    current = undefined;
    clearPreview($('details-media'));
  });
}
