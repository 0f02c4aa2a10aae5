/**
 * Settings (admin): the transform mode and the presets, with a preview of a saved preset on one of
 * the latest images. Nothing can be changed until what is saved is on screen (a choice made before
 * would be overwritten).
 */
import { $, assetUrl, el, type FileJson, json, messageOf, revokeUrls, send, titleOf } from './api';

interface Preset { key: string; fit?: string; width?: number; height?: number; quality?: number; format?: string; withoutEnlargement?: boolean; transforms?: unknown[] }

function status(message: string): void {
  $('settings-status').textContent = message;
}

export async function loadSettings(): Promise<void> {
  $<HTMLFieldSetElement>('settings-fields').disabled = true;
  try {
    const s = await json<{ storage_asset_transform: string; storage_asset_presets: Preset[] | null }>('/settings');
    $<HTMLSelectElement>('mode').value = s.storage_asset_transform;
    $('presets').replaceChildren(...(s.storage_asset_presets ?? []).map(presetRow));
    $<HTMLFieldSetElement>('settings-fields').disabled = false;
    showPresetsTable();
    await refreshPreviewChoices(s.storage_asset_presets ?? []);
  } catch (error) {
    status(messageOf(error));
  }
}

/** The table only when there are presets; an empty one says so instead. */
function showPresetsTable(): void {
  const empty = $('presets').children.length === 0;
  $('presets-table').hidden = empty;
  $('presets-empty').hidden = !empty;
}

function presetRow(p: Preset = { key: '' }): HTMLTableRowElement {
  const tr = el('tr');
  const cell = (name: string, control: HTMLInputElement | HTMLSelectElement) => {
    control.name = name;
    control.setAttribute('aria-label', name);
    tr.append(el('td', {}, control));
  };
  const input = (type: string, value: string | number | undefined) => el('input', { type, value: value === undefined ? '' : String(value) });
  const select = (options: string[], value: string | undefined) => el('select', {}, ...['', ...options].map((o) => new Option(o || '—', o, false, o === (value ?? ''))));
  cell('Key', input('text', p.key));
  cell('Fit', select(['cover', 'contain', 'inside', 'outside'], p.fit));
  cell('Width', input('number', p.width));
  cell('Height', input('number', p.height));
  cell('Quality', input('number', p.quality));
  cell('Format', select(['jpg', 'png', 'webp', 'avif', 'tiff', 'auto'], p.format));
  const enlarge = input('checkbox', undefined);
  enlarge.checked = p.withoutEnlargement ?? false;
  cell('Without enlargement', enlarge);
  cell('Transforms', input('text', p.transforms ? JSON.stringify(p.transforms) : ''));
  const remove = el('button', { type: 'button', textContent: 'Remove', className: 'quiet' });
  remove.addEventListener('click', () => {
    tr.remove();
    showPresetsTable();
  });
  tr.append(el('td', {}, remove));
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
    await json('/settings', send('PATCH', { storage_asset_transform: $<HTMLSelectElement>('mode').value, storage_asset_presets: presetsFromForm() }));
    status('Settings saved.');
    await loadSettings();
  } catch (error) {
    status(error instanceof SyntaxError ? `Transforms must be JSON: ${error.message}` : messageOf(error));
  }
}

/** The preview offers saved presets only: it shows what /assets answers for that key now. */
async function refreshPreviewChoices(saved: Preset[]): Promise<void> {
  const keys = saved.map((p) => p.key).filter(Boolean);
  const images = keys.length ? await json<FileJson[]>(`/files?limit=20&sort=-uploaded_on&filter=${encodeURIComponent(JSON.stringify({ type: { _starts_with: 'image/' } }))}`).catch(() => []) : [];
  const ready = keys.length > 0 && images.length > 0;
  $('preset-preview').hidden = !ready;
  $('preset-preview-empty').hidden = ready;
  $('preset-preview-empty').textContent = keys.length === 0 ? 'Save a preset to preview it here.' : 'Upload an image to preview presets on it.';
  if (!ready) return;
  $<HTMLSelectElement>('preview-preset').replaceChildren(...keys.map((k) => new Option(k, k)));
  $<HTMLSelectElement>('preview-file').replaceChildren(...images.map((f) => new Option(titleOf(f), f.id)));
  await showPresetPreview();
}

async function showPresetPreview(): Promise<void> {
  const file = $<HTMLSelectElement>('preview-file').value;
  const key = $<HTMLSelectElement>('preview-preset').value;
  const img = $<HTMLImageElement>('preview-image');
  revokeUrls('settings');
  try {
    img.src = await assetUrl(`/assets/${file}?key=${encodeURIComponent(key)}`, 'settings');
    img.hidden = false;
    $('preview-status').textContent = '';
  } catch (error) {
    img.hidden = true;
    $('preview-status').textContent = messageOf(error);
  }
}

export function initSettings(): void {
  $('settings-form').addEventListener('submit', (e) => void saveSettings(e));
  $('add-preset').addEventListener('click', () => {
    $('presets').append(presetRow());
    showPresetsTable();
    $('presets').querySelector<HTMLInputElement>('tr:last-child input')?.focus();
  });
  $('preview-file').addEventListener('change', () => void showPresetPreview());
  $('preview-preset').addEventListener('change', () => void showPresetPreview());
}
