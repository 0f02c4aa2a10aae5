/**
 * The folders sidebar: the tree from `/folders`, the open folder (it filters the files and is where
 * uploads land), breadcrumbs, and new / rename / move / delete. Files and folders dropped on a folder
 * move into it; the file views put their ids on the drag under FILES_DRAG.
 */
import { $, api, el, type Folder, json, messageOf, send, session } from './api';
import { askFolder, askName, folderOptions } from './ask';

export const FILES_DRAG = 'application/x-edge-assets-files';
const FOLDER_DRAG = 'application/x-edge-assets-folder';

export const folders = { list: [] as Folder[], open: null as string | null };
const byId = new Map<string, Folder>();
let hooks: { opened: () => void; moveFiles: (ids: string[], folder: string | null) => Promise<void> };

/** The folder's ancestors from the root down, itself last (bounded: the API refuses cycles anyway). */
function lineage(id: string | null): Folder[] {
  const out: Folder[] = [];
  for (let f = id ? byId.get(id) : undefined; f && out.length < 64; f = f.parent ? byId.get(f.parent) : undefined) out.unshift(f);
  return out;
}

export const pathOf = (id: string): string => lineage(id).map((f) => f.name).join(' / ');
export const folderName = (id: string | null): string => (id ? (byId.get(id)?.name ?? 'a folder') : 'All files');
export const folderChoices = (exclude?: (id: string) => boolean) => folderOptions(folders.list, pathOf, exclude);

function status(message: string): void {
  $('folders-status').textContent = message;
}

export async function loadFolders(): Promise<void> {
  try {
    folders.list = await json<Folder[]>('/folders?limit=-1&sort=name');
  } catch (error) {
    status(messageOf(error));
  }
  byId.clear();
  for (const f of folders.list) byId.set(f.id, f);
  if (folders.open && !byId.has(folders.open)) folders.open = null;
  render();
}

export function openFolder(id: string | null): void {
  folders.open = id;
  status('');
  render();
  hooks.opened();
}

function render(): void {
  const children = new Map<string | null, Folder[]>();
  for (const f of folders.list) {
    const key = f.parent && byId.has(f.parent) ? f.parent : null;
    children.set(key, [...(children.get(key) ?? []), f]);
  }
  const branch = (parent: string | null, depth: number): HTMLUListElement =>
    el('ul', {}, ...(children.get(parent) ?? []).map((f) => el('li', {}, folderButton(f.id, f.name), ...(children.has(f.id) && depth < 64 ? [branch(f.id, depth + 1)] : []))));
  $('folder-tree').replaceChildren(el('ul', {}, el('li', {}, folderButton(null, 'All files'), branch(null, 0))));
  renderCrumbs();
}

function folderButton(id: string | null, name: string): HTMLButtonElement {
  const button = el('button', { type: 'button', className: 'folder', textContent: name, draggable: id !== null && session.may('admin') });
  if (id === folders.open) button.setAttribute('aria-current', 'true');
  button.dataset.folder = id ?? '';
  button.addEventListener('click', () => openFolder(id));
  if (id) button.addEventListener('dragstart', (e) => e.dataTransfer?.setData(FOLDER_DRAG, id));
  button.addEventListener('dragover', (e) => {
    const types = e.dataTransfer?.types ?? [];
    if (!types.includes(FILES_DRAG) && !types.includes(FOLDER_DRAG)) return;
    e.preventDefault();
    button.classList.add('drop');
  });
  button.addEventListener('dragleave', () => button.classList.remove('drop'));
  button.addEventListener('drop', (e) => {
    e.preventDefault();
    button.classList.remove('drop');
    const files = e.dataTransfer?.getData(FILES_DRAG);
    const folder = e.dataTransfer?.getData(FOLDER_DRAG);
    if (files) void hooks.moveFiles(JSON.parse(files) as string[], id);
    else if (folder && folder !== id) void moveFolder(folder, id);
  });
  return button;
}

function renderCrumbs(): void {
  const trail = lineage(folders.open);
  const crumbs: HTMLElement[] = [null, ...trail.map((f) => f.id)].map((id, i, all) => {
    const name = folderName(id);
    if (i === all.length - 1) return el('li', {}, el('span', { textContent: name, attrs: { 'aria-current': 'page' } }));
    const link = el('button', { type: 'button', className: 'link', textContent: name });
    link.addEventListener('click', () => openFolder(id));
    return el('li', {}, link);
  });
  $('crumbs').replaceChildren(...crumbs);
  $('folder-actions').hidden = folders.open === null || !session.may('admin');
}

async function act(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    status(messageOf(error));
  }
}

async function newFolder(): Promise<void> {
  const name = await askName(`New folder in ${folderName(folders.open)}`, '', 'Create');
  if (!name) return;
  const made = await json<Folder>('/folders', send('POST', { name, parent: folders.open }));
  await loadFolders();
  openFolder(made.id);
}

async function renameFolder(): Promise<void> {
  const id = folders.open;
  if (!id) return;
  const name = await askName('Rename folder', folderName(id), 'Rename');
  if (!name) return;
  await api(`/folders/${id}`, send('PATCH', { name }));
  await loadFolders();
  status(`Renamed to "${name}".`);
}

async function moveFolder(id: string, parent: string | null): Promise<void> {
  await act(async () => {
    await api(`/folders/${id}`, send('PATCH', { parent }));
    await loadFolders();
    status(`Moved "${folderName(id)}" into ${folderName(parent)}.`);
  });
}

async function chooseParent(): Promise<void> {
  const id = folders.open;
  if (!id) return;
  // Never into itself or below itself: the API would refuse it, so it is not offered.
  const target = await askFolder(`Move "${folderName(id)}" to…`, folderChoices((f) => lineage(f).some((a) => a.id === id)), byId.get(id)?.parent ?? null);
  if (target !== undefined) await moveFolder(id, target || null);
}

async function deleteFolder(): Promise<void> {
  const id = folders.open;
  if (!id || !confirm(`Delete the folder "${folderName(id)}"? Its files and subfolders move to All files.`)) return;
  await api(`/folders/${id}`, { method: 'DELETE' });
  const parent = byId.get(id)?.parent ?? null;
  await loadFolders();
  openFolder(parent && byId.has(parent) ? parent : null);
}

export function initFolders(h: typeof hooks): void {
  hooks = h;
  $('new-folder').addEventListener('click', () => void act(newFolder));
  $('rename-folder').addEventListener('click', () => void act(renameFolder));
  $('move-folder').addEventListener('click', () => void act(chooseParent));
  $('delete-folder').addEventListener('click', () => void act(deleteFolder));
}
