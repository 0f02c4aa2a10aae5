/**
 * How one file looks in the grid (a card) and in the list (a table row), and its thumbnail. A
 * thumbnail's box has its size before the picture arrives (no layout shift); a thumbnail the API
 * refuses (a 422 for a picture beyond the engine's limits, say) shows the file's kind and the API's
 * message instead, and the file still opens.
 */
import { thumbHashToDataURL } from 'thumbhash';
import { assetUrl, badge, date, dimensions, el, type FileJson, isRaster, messageOf, size, titleOf } from './api';

/** SVGs above this are not fetched whole just to draw a thumbnail. */
const SVG_THUMB_MAX_BYTES = 2_000_000;

export interface RenderHooks {
  open(id: string): void;
  /** A checkbox was clicked (`range`: with Shift). */
  pick(id: string, checked: boolean, range: boolean): void;
  dragStart(id: string, event: DragEvent): void;
  draggable: boolean;
}

function thumb(file: FileJson, preset: string, className: string): HTMLElement {
  const box = el('span', { className, attrs: { 'aria-hidden': 'true' } });
  const fallback = (why?: string) => {
    box.replaceChildren(el('span', { className: 'badge', textContent: badge(file) }), ...(why ? [el('span', { className: 'why', textContent: why })] : []));
    if (why) box.title = why;
  };
  const svg = file.type === 'image/svg+xml' && Number(file.filesize) <= SVG_THUMB_MAX_BYTES;
  if (!isRaster(file) && !svg) {
    fallback();
    return box;
  }
  const img = el('img', { alt: '', decoding: 'async' });
  img.addEventListener('load', () => box.classList.add('loaded'));
  if (file.thumbhash) placeholder(box, file.thumbhash);
  box.append(img);
  assetUrl(svg ? `/assets/${file.id}` : `/assets/${file.id}?key=${preset}`, 'thumbnails', svg ? 'image/svg+xml' : undefined).then(
    (url) => (img.src = url),
    (error: unknown) => fallback(`No preview: ${messageOf(error)}`),
  );
  return box;
}

/**
 * The image's blurred preview (its ThumbHash, ~25 bytes in the record) under the thumbnail until it
 * has loaded: set through the CSSOM, which the page's CSP allows (inline style attributes it does not).
 */
function placeholder(box: HTMLElement, hash: string): void {
  try {
    box.style.backgroundImage = `url("${thumbHashToDataURL(Uint8Array.from(atob(hash), (c) => c.charCodeAt(0)))}")`;
    box.classList.add('placeholder');
  } catch {
    // A damaged hash only loses the preview.
  }
}

function label(file: FileJson): string {
  return `${titleOf(file)} (${file.filename_download}), ${file.type ?? 'unknown type'}, ${size(file.filesize)}`;
}

function checkbox(file: FileJson, hooks: RenderHooks, checked: boolean): HTMLInputElement {
  const box = el('input', { type: 'checkbox', className: 'pick', checked, attrs: { 'aria-label': `Select ${titleOf(file)}` } });
  box.addEventListener('click', (e) => hooks.pick(file.id, box.checked, e.shiftKey));
  return box;
}

function openButton(file: FileJson, hooks: RenderHooks, className: string, ...children: (Node | string)[]): HTMLButtonElement {
  const button = el('button', { type: 'button', className, attrs: { 'aria-label': label(file) } }, ...children);
  button.addEventListener('click', () => hooks.open(file.id));
  return button;
}

function draggable<T extends HTMLElement>(node: T, file: FileJson, hooks: RenderHooks): T {
  node.dataset.id = file.id;
  node.draggable = hooks.draggable;
  node.addEventListener('dragstart', (e) => hooks.dragStart(file.id, e));
  return node;
}

export function card(file: FileJson, hooks: RenderHooks, checked: boolean): HTMLLIElement {
  const facts = `${file.type ?? 'unknown type'} · ${size(file.filesize)}`;
  const open = openButton(file, hooks, 'open', thumb(file, 'system-medium-cover', 'thumb'), el('span', { className: 'name', textContent: titleOf(file) }), el('span', { className: 'facts', textContent: facts }));
  return draggable(el('li', { className: 'card' }, checkbox(file, hooks, checked), open), file, hooks);
}

export const LIST_COLUMNS = [
  { label: 'Title', sort: 'title' },
  { label: 'Type' },
  { label: 'Size', sort: 'filesize' },
  { label: 'Dimensions' },
  { label: 'Uploaded', sort: 'uploaded_on' },
] as const;

export function row(file: FileJson, hooks: RenderHooks, checked: boolean): HTMLTableRowElement {
  const title = el('td', { className: 'title' }, thumb(file, 'system-small-cover', 'thumb small'), el('span', {}, openButton(file, hooks, 'link open', titleOf(file)), el('span', { className: 'sub', textContent: file.filename_download })));
  return draggable(
    el(
      'tr',
      {},
      el('td', { className: 'check' }, checkbox(file, hooks, checked)),
      title,
      el('td', { textContent: file.type ?? '—' }),
      el('td', { className: 'num', textContent: size(file.filesize) }),
      el('td', { className: 'num', textContent: dimensions(file) }),
      el('td', { textContent: date(file.uploaded_on) }),
    ),
    file,
    hooks,
  );
}
