/**
 * Uploading from the page: a compact "Upload" button (a real file input behind it), a drop target
 * over the whole window while files are dragged over it, and a panel with each file's progress,
 * pause and resume, and the API's message when one fails. Files go to the open folder.
 */
import { $, el, session } from './api';
import { folderName, folders } from './folders';
import { createUploaders, type Uploader, type Uploaders } from './upload';

let uploaders: Uploaders | undefined;
/** Each file's row: its bar, its state and its pause/resume/retry button. */
const rows = new Map<string, { row: HTMLLIElement; bar: HTMLProgressElement; state: HTMLElement; toggle: HTMLButtonElement }>();
let finished: () => void;

function add(files: Iterable<File>): void {
  if (!uploaders) return;
  const folder = folders.open;
  for (const data of files) {
    try {
      uploaders.pick(data.size).addFile({ name: data.name, type: data.type, data, meta: { name: data.name, type: data.type, ...(folder ? { folder } : {}) } });
    } catch (error) {
      // Uppy refuses a file it is already uploading.
      $('uploads-status').textContent = `${data.name}: ${(error as Error).message}`;
      $('uploads').hidden = false;
    }
  }
}

function show(uppy: Uploader, id: string, name: string, where: string): void {
  const bar = el('progress', { max: 100, value: 0, attrs: { 'aria-label': `Progress of ${name}` } });
  const state = el('span', { className: 'state', textContent: 'Waiting' });
  const toggle = el('button', { type: 'button', className: 'quiet small', textContent: 'Pause', attrs: { 'aria-label': `Pause ${name}` } });
  toggle.addEventListener('click', () => {
    const paused = uppy.pauseResume(id);
    toggle.textContent = paused ? 'Resume' : 'Pause';
    toggle.setAttribute('aria-label', `${paused ? 'Resume' : 'Pause'} ${name}`);
    state.textContent = paused ? 'Paused' : 'Resuming';
  });
  const row = el('li', {}, el('span', { className: 'name', textContent: name, title: `${name} → ${where}` }), bar, state, toggle);
  rows.set(id, { row, bar, state, toggle });
  $('upload-list').append(row);
  $('uploads').hidden = false;
}

function wire(u: Uploader): void {
  u.on('file-added', (file) => show(u, file.id, file.name ?? 'file', folderName(file.meta.folder ?? null)));
  u.on('upload-progress', (file, progress) => {
    const r = file && rows.get(file.id);
    if (!r || !progress.bytesTotal) return;
    const pct = Math.floor((progress.bytesUploaded / progress.bytesTotal) * 100);
    r.bar.value = pct;
    if (!u.getFile(file.id)?.isPaused) r.state.textContent = `${pct}%`;
  });
  u.on('upload-success', (file) => {
    const r = file && rows.get(file.id);
    if (!r) return;
    r.bar.value = 100;
    r.state.textContent = 'Done';
    r.toggle.remove();
    r.row.classList.add('done');
  });
  u.on('upload-error', (file, error) => {
    const r = file && rows.get(file.id);
    if (!r) return;
    r.state.textContent = `Failed: ${error.message}`;
    r.row.classList.add('failed');
    r.toggle.textContent = 'Retry';
    r.toggle.setAttribute('aria-label', `Retry ${file.name ?? 'file'}`);
    r.toggle.onclick = () => {
      r.row.classList.remove('failed');
      void u.retryUpload(file.id);
    };
  });
  u.on('complete', (result) => {
    // Uppy forgets what landed (its row stays), so the same file can be uploaded again.
    for (const file of result.successful ?? []) u.removeFile(file.id);
    finished();
  });
}

function clearFinished(): void {
  for (const [id, r] of rows) {
    if (!r.row.classList.contains('done')) continue;
    r.row.remove();
    rows.delete(id);
  }
  $('uploads-status').textContent = '';
  $('uploads').hidden = rows.size === 0;
}

/** Makes the uploaders (asking the server whether large files go direct), then shows the Upload button. */
export async function startUploads(): Promise<void> {
  if (uploaders) return;
  const made = await createUploaders();
  // Signed out meanwhile, or started twice: keep one set.
  if (uploaders || !session.may('upload')) {
    for (const u of made.all) u.destroy();
    return;
  }
  uploaders = made;
  for (const u of made.all) wire(u);
  $('upload-button').hidden = false;
}

export function stopUploads(): void {
  for (const u of uploaders?.all ?? []) u.destroy();
  uploaders = undefined;
  rows.clear();
  $('upload-list').replaceChildren();
  $('uploads').hidden = true;
  $('upload-button').hidden = true;
}

/** The whole window takes dropped files while some are dragged over it (not the page's own drags). */
function dropTarget(): void {
  const overlay = $('drop-overlay');
  let depth = 0;
  const carriesFiles = (e: DragEvent) => Boolean(uploaders) && (e.dataTransfer?.types ?? []).includes('Files');
  window.addEventListener('dragenter', (e) => {
    if (!carriesFiles(e)) return;
    depth++;
    $('drop-where').textContent = folderName(folders.open);
    overlay.hidden = false;
  });
  window.addEventListener('dragleave', (e) => {
    if (carriesFiles(e) && --depth <= 0) overlay.hidden = true;
  });
  window.addEventListener('dragover', (e) => {
    if (carriesFiles(e)) e.preventDefault();
  });
  window.addEventListener('drop', (e) => {
    if (!carriesFiles(e)) return;
    e.preventDefault();
    depth = 0;
    overlay.hidden = true;
    add(e.dataTransfer?.files ?? []);
  });
}

export function initUploads(onFinished: () => void): void {
  finished = onFinished;
  const input = $<HTMLInputElement>('upload-input');
  $('upload-button').addEventListener('click', () => input.click());
  input.addEventListener('change', () => {
    add(input.files ?? []);
    input.value = '';
  });
  $('uploads-clear').addEventListener('click', clearFinished);
  dropTarget();
}
