/**
 * One small modal for the page's questions: a name (new folder, rename) or a folder (move to…).
 * It sits above the details dialog when asked from there, and gives focus back when it closes.
 */
import { $, el, type Folder } from './api';

let answer: ((value: string | undefined) => void) | undefined;

function open(title: string, okLabel: string, control: HTMLInputElement | HTMLSelectElement, label: string): Promise<string | undefined> {
  const dialog = $<HTMLDialogElement>('ask');
  $('ask-title').textContent = title;
  $('ask-ok').textContent = okLabel;
  control.id = 'ask-control';
  $('ask-field').replaceChildren(el('label', { htmlFor: 'ask-control' }, label), control);
  answer?.(undefined);
  dialog.showModal();
  control.focus();
  return new Promise((resolve) => (answer = resolve));
}

/** A name, or undefined when cancelled. */
export function askName(title: string, value: string, okLabel: string): Promise<string | undefined> {
  const input = el('input', { value, required: true, maxLength: 255, autocomplete: 'off' });
  return open(title, okLabel, input, 'Name');
}

/** Folder choices as their paths from the root, sorted; `''` is the root. */
export function folderOptions(folders: Folder[], pathOf: (id: string) => string, exclude?: (id: string) => boolean): HTMLOptionElement[] {
  const choices = folders.filter((f) => !exclude?.(f.id)).map((f) => [f.id, pathOf(f.id)] as const).sort((a, b) => a[1].localeCompare(b[1]));
  return [new Option('All files (no folder)', ''), ...choices.map(([id, path]) => new Option(path, id))];
}

/** A folder id (`''` for the root), or undefined when cancelled. */
export function askFolder(title: string, options: HTMLOptionElement[], current: string | null): Promise<string | undefined> {
  const select = el('select', {}, ...options);
  select.value = current ?? '';
  return open(title, 'Move', select, 'Folder');
}

export function initAsk(): void {
  const dialog = $<HTMLDialogElement>('ask');
  dialog.addEventListener('close', () => {
    const control = document.getElementById('ask-control') as HTMLInputElement | HTMLSelectElement | null;
    const value = dialog.returnValue === 'ok' && control ? control.value.trim() : undefined;
    dialog.returnValue = '';
    answer?.(value);
    answer = undefined;
  });
}
