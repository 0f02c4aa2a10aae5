/**
 * A file's preview in the details dialog, by kind: pictures the engine makes at a size that fits
 * (system-large-contain), SVGs as images, players for video and audio, the browser's own viewer for
 * PDFs. Originals are fetched with the token (private files too) into object URLs whose type is
 * forced from the record, so a blob is only ever shown as what the page chose to show it as. A
 * preview that fails says why, in the API's words; the rest of the dialog works regardless.
 */
import { assetUrl, badge, el, type FileJson, isRaster, messageOf, revokeUrls } from './api';

/** Originals above this are not fetched whole into the page for a preview: download them instead. */
const PREVIEW_MAX_BYTES = 100_000_000;

/** Each preview started; a slower one for a file no longer open is dropped. */
let showing = 0;

export type PreviewKind = 'image' | 'svg' | 'video' | 'audio' | 'pdf' | 'none';

export function kindOf(f: FileJson): PreviewKind {
  const type = f.type ?? '';
  if (isRaster(f)) return 'image';
  if (type === 'image/svg+xml') return 'svg';
  if (type.startsWith('video/')) return 'video';
  if (type.startsWith('audio/')) return 'audio';
  if (type === 'application/pdf') return 'pdf';
  return 'none';
}

const url = (path: string, type?: string) => assetUrl(path, 'preview', type);

function media(kind: PreviewKind, f: FileJson, src: string): HTMLElement {
  const name = f.title || f.filename_download;
  if (kind === 'video') return el('video', { controls: true, preload: 'metadata', src, attrs: { 'aria-label': `Video: ${name}` } });
  if (kind === 'audio') return el('audio', { controls: true, preload: 'metadata', src, attrs: { 'aria-label': `Audio: ${name}` } });
  if (kind === 'pdf') return el('iframe', { src, title: `PDF: ${name}` });
  return el('img', { src, alt: `Preview of ${f.filename_download}` });
}

function nothing(f: FileJson, why: string): HTMLElement {
  return el('div', { className: 'no-preview' }, el('span', { className: 'badge', textContent: badge(f) }), el('span', { textContent: f.type ?? 'unknown type' }), el('span', { className: 'why', textContent: why }));
}

/**
 * Fills `box` with the preview of `f`; for images, also `image` (the picture the focal point is set
 * on) and `crop` (the cover crop around it), which are hidden for every other kind.
 */
export async function showPreview(f: FileJson, box: HTMLElement, image: HTMLImageElement, crop: HTMLImageElement): Promise<void> {
  const mine = ++showing;
  revokeUrls('preview');
  const kind = kindOf(f);
  box.replaceChildren();
  image.hidden = crop.hidden = kind !== 'image';
  image.removeAttribute('src');
  crop.removeAttribute('src');
  try {
    if (kind === 'image') {
      image.alt = `Preview of ${f.filename_download}`;
      const src = await url(`/assets/${f.id}?key=system-large-contain`);
      if (mine !== showing) return;
      image.src = src;
      // The cover crop follows the focal point (a new URL after each change: the ETag carries it).
      const cropped = await url(`/assets/${f.id}?key=system-medium-cover&v=${f.focal_point_x ?? ''}-${f.focal_point_y ?? ''}`);
      if (mine === showing) crop.src = cropped;
      return;
    }
    if (kind === 'none') {
      box.append(nothing(f, 'No preview for this type: download it to open it.'));
      return;
    }
    if (Number(f.filesize) > PREVIEW_MAX_BYTES) {
      box.append(nothing(f, `Too large to preview here (over ${PREVIEW_MAX_BYTES / 1_000_000} MB): download it to open it.`));
      return;
    }
    const src = await url(`/assets/${f.id}`, f.type ?? undefined);
    if (mine === showing) box.append(media(kind, f, src));
  } catch (error) {
    if (mine !== showing) return;
    image.hidden = crop.hidden = true;
    box.replaceChildren(nothing(f, `No preview: ${messageOf(error)}`));
  }
}

/** Lets go of the open file's previews (the dialog closed). */
export function clearPreview(box: HTMLElement): void {
  showing++;
  revokeUrls('preview');
  box.replaceChildren();
}
