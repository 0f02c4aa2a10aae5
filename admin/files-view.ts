/**
 * The files of the open folder: grid or list, sorted by name, size or date either way (both
 * remembered in this browser's local storage), searched and filtered by type, a page at a time.
 * Files can be selected (a checkbox each, Shift for a range, "Select all") and moved or deleted
 * together through the API's batch routes (`PATCH /files`, `DELETE /files`).
 */
import { $, api, el, type FileJson, messageOf, revokeUrls, send, session } from './api';
import { askFolder } from './ask';
import { card, LIST_COLUMNS, type RenderHooks, row } from './files-render';
import { FILES_DRAG, folderChoices, folderName, folders } from './folders';

const PAGE = 48;
/** The API's batch routes take at most this many ids a request. */
const BATCH = 100;
const PREFS_KEY = 'edge-assets-view';

const SORTS: Record<string, string> = {
  '-uploaded_on': 'Newest first',
  uploaded_on: 'Oldest first',
  title: 'Name A–Z',
  '-title': 'Name Z–A',
  '-filesize': 'Largest first',
  filesize: 'Smallest first',
};

interface Prefs { view: 'grid' | 'list'; sort: string }
const prefs: Prefs = (() => {
  const saved = JSON.parse(localStorage.getItem(PREFS_KEY) ?? '{}') as Partial<Prefs>;
  return { view: saved.view === 'list' ? 'list' : 'grid', sort: saved.sort && saved.sort in SORTS ? saved.sort : '-uploaded_on' };
})();

let shown: FileJson[] = [];
const selected = new Set<string>();
/** The index of the last checkbox clicked, where a Shift-click range starts. */
let anchor: number | undefined;
/** Each listing started; an answer to an older one (a search typed on, a folder changed) is dropped. */
let listing = 0;
let total = 0;
let openFile: (id: string) => void;

export function status(message: string): void {
  $('files-status').textContent = message;
}

function savePrefs(): void {
  localStorage.setItem(PREFS_KEY, JSON.stringify(prefs));
}

function query(offset: number): URLSearchParams {
  const field = prefs.sort.replace(/^-/, '');
  // A title may be empty: the download name orders those (and equal titles) the same way.
  const sort = field === 'title' ? `${prefs.sort},${prefs.sort.startsWith('-') ? '-' : ''}filename_download` : prefs.sort;
  const params = new URLSearchParams({ sort, limit: String(PAGE), offset: String(offset), meta: 'filter_count' });
  const search = $<HTMLInputElement>('search').value.trim();
  if (search) params.set('search', search);
  const type = $<HTMLSelectElement>('type-filter').value;
  const filters = [...(type ? [{ type: { _starts_with: type } }] : []), ...(folders.open ? [{ folder: { _eq: folders.open } }] : [])];
  if (filters.length > 0) params.set('filter', JSON.stringify({ _and: filters }));
  return params;
}

export async function loadFiles(reset = true): Promise<void> {
  const mine = ++listing;
  try {
    const body = (await (await api(`/files?${query(reset ? 0 : shown.length)}`)).json()) as { data: FileJson[]; meta?: { filter_count?: number } };
    if (mine !== listing) return;
    if (reset) {
      revokeUrls('thumbnails');
      shown = [];
      anchor = undefined;
      selected.clear();
    }
    shown.push(...body.data);
    total = body.meta?.filter_count ?? shown.length;
    status('');
    render(reset ? 0 : shown.length - body.data.length);
  } catch (error) {
    if (mine === listing) status(messageOf(error));
  }
}

const hooks: RenderHooks = {
  open: (id) => openFile(id),
  pick,
  dragStart(id, event) {
    const ids = selected.has(id) ? [...selected] : [id];
    event.dataTransfer?.setData(FILES_DRAG, JSON.stringify(ids));
    if (event.dataTransfer) event.dataTransfer.effectAllowed = 'move';
  },
  draggable: false,
};

/** Draws the files from `from` on (appends a page; 0 redraws the view). */
function render(from: number): void {
  hooks.draggable = session.may('admin');
  const list = prefs.view === 'list';
  const container = $('files');
  if (from === 0) container.replaceChildren(list ? listTable() : el('ul', { className: 'grid', id: 'grid' }));
  const target = list ? container.querySelector('tbody') : container.querySelector('ul');
  for (const f of shown.slice(from)) target?.append(list ? row(f, hooks, selected.has(f.id)) : card(f, hooks, selected.has(f.id)));
  $('count').textContent = `${total} file${total === 1 ? '' : 's'} in ${folderName(folders.open)}`;
  $('more').hidden = shown.length >= total;
  $('files-empty').hidden = shown.length > 0;
  $('files-empty').textContent = $<HTMLInputElement>('search').value || $<HTMLSelectElement>('type-filter').value ? 'No file matches.' : `${folderName(folders.open)} has no files yet.`;
  for (const [id, view] of [['view-grid', 'grid'], ['view-list', 'list']] as const) $(id).setAttribute('aria-pressed', String(prefs.view === view));
  $<HTMLSelectElement>('sort').value = prefs.sort;
  updateSelection();
}

function listTable(): HTMLTableElement {
  const th = LIST_COLUMNS.map((c) => {
    if (!('sort' in c)) return el('th', { scope: 'col', textContent: c.label });
    const dir = prefs.sort === c.sort ? 'ascending' : prefs.sort === `-${c.sort}` ? 'descending' : undefined;
    const button = el('button', { type: 'button', className: 'sort', textContent: c.label, attrs: { 'aria-label': `Sort by ${c.label.toLowerCase()}` } });
    button.addEventListener('click', () => setSort(prefs.sort === c.sort ? `-${c.sort}` : c.sort));
    return el('th', { scope: 'col', ...(dir ? { attrs: { 'aria-sort': dir } } : {}) }, button);
  });
  return el('table', { className: 'list' }, el('thead', {}, el('tr', {}, el('th', { scope: 'col', className: 'check' }, el('span', { className: 'sr-only', textContent: 'Selected' })), ...th)), el('tbody'));
}

function setSort(sort: string): void {
  prefs.sort = sort;
  savePrefs();
  void loadFiles();
}

function setView(view: Prefs['view']): void {
  prefs.view = view;
  savePrefs();
  render(0);
}

function pick(id: string, checked: boolean, range: boolean): void {
  const index = shown.findIndex((f) => f.id === id);
  const from = range && anchor !== undefined ? Math.min(anchor, index) : index;
  const to = range && anchor !== undefined ? Math.max(anchor, index) : index;
  for (const f of shown.slice(from, to + 1)) {
    if (checked) selected.add(f.id);
    else selected.delete(f.id);
  }
  anchor = index;
  updateSelection();
}

function updateSelection(): void {
  for (const box of $('files').querySelectorAll<HTMLInputElement>('input.pick')) {
    const id = box.closest<HTMLElement>('[data-id]')?.dataset.id ?? '';
    box.checked = selected.has(id);
    box.closest('[data-id]')?.classList.toggle('picked', box.checked);
  }
  const all = $<HTMLInputElement>('select-all');
  all.checked = shown.length > 0 && selected.size === shown.length;
  all.indeterminate = selected.size > 0 && selected.size < shown.length;
  all.disabled = shown.length === 0;
  $('selection-bar').hidden = selected.size === 0;
  $('selection-count').textContent = `${selected.size} selected`;
  for (const id of ['move-selected', 'delete-selected']) $<HTMLButtonElement>(id).disabled = !session.may('admin');
}

/** Ids in batches the API takes. */
function batches(ids: string[]): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < ids.length; i += BATCH) out.push(ids.slice(i, i + BATCH));
  return out;
}

const files = (n: number) => `${n} file${n === 1 ? '' : 's'}`;

/** Moves files into a folder (`null`: no folder), then shows the open folder again; a refusal is thrown. */
export async function moveFiles(ids: string[], folder: string | null): Promise<void> {
  for (const keys of batches(ids)) await api('/files', send('PATCH', { keys, data: { folder } }));
  await loadFiles();
  status(`Moved ${files(ids.length)} to ${folderName(folder)}.`);
}

/** moveFiles for the list's own actions (a drop on a folder, "Move selected"): a refusal is said above the files. */
export async function moveAndSay(ids: string[], folder: string | null): Promise<void> {
  await moveFiles(ids, folder).catch(async (error: unknown) => {
    await loadFiles();
    status(`Not moved: ${messageOf(error)}`);
  });
}

async function moveSelected(): Promise<void> {
  const target = await askFolder(`Move ${files(selected.size)} to…`, folderChoices(), folders.open);
  if (target !== undefined) await moveAndSay([...selected], target || null);
}

async function deleteSelected(): Promise<void> {
  const ids = [...selected];
  if (!confirm(`Delete ${files(ids.length)}? This cannot be undone.`)) return;
  try {
    for (const keys of batches(ids)) await api('/files', send('DELETE', { keys }));
    await loadFiles();
    status(`Deleted ${files(ids.length)}.`);
  } catch (error) {
    // A batch that failed deleted none of its files; earlier batches are gone.
    await loadFiles();
    status(`Not deleted: ${messageOf(error)}`);
  }
}

let searchTimer: ReturnType<typeof setTimeout> | undefined;

export function initFiles(open: (id: string) => void): void {
  openFile = open;
  $<HTMLSelectElement>('sort').replaceChildren(...Object.entries(SORTS).map(([value, label]) => new Option(label, value)));
  $('sort').addEventListener('change', () => setSort($<HTMLSelectElement>('sort').value));
  $('view-grid').addEventListener('click', () => setView('grid'));
  $('view-list').addEventListener('click', () => setView('list'));
  $('search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => void loadFiles(), 250);
  });
  $('type-filter').addEventListener('change', () => void loadFiles());
  $('more').addEventListener('click', () => void loadFiles(false));
  $('select-all').addEventListener('change', () => {
    if ($<HTMLInputElement>('select-all').checked) for (const f of shown) selected.add(f.id);
    else selected.clear();
    updateSelection();
  });
  $('move-selected').addEventListener('click', () => void moveSelected());
  $('delete-selected').addEventListener('click', () => void deleteSelected());
  $('clear-selection').addEventListener('click', () => {
    selected.clear();
    updateSelection();
  });
}
