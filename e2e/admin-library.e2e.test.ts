import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_TOKEN } from '../scripts/local-stack.ts';
import { apiJson, type FileJson, findFile, type Harness, makeFolder, screenshots, signIn, startHarness, upload } from './admin-harness.ts';

/**
 * The file library's second edition in a real browser: a file whose thumbnail the engine refuses,
 * folders, the list view's sorting, selection with batch moves and deletes, previews by kind, uploads
 * into the open folder, the keyboard alone; and no console error or 5xx on the way. The stack's
 * ASSETS_TRANSFORM_MAX_PIXELS is small, so that a modest picture is beyond it.
 */
let h: Harness;
let base: string;
const dir = mkdtempSync(join(tmpdir(), 'edge-assets-library-'));
const fixture = (name: string) => new Uint8Array(readFileSync(join('test', 'fixtures', name)));
const file = (id: string) => apiJson<FileJson>(base, `/files/${id}`);
const folderList = () => apiJson<{ id: string; name: string; parent: string | null }[]>(base, '/folders?limit=-1');
/** The folder named `name`, once the page's request has made it. */
async function folderNamed(name: string): Promise<{ id: string; name: string; parent: string | null }> {
  await expect.poll(async () => (await folderList()).some((f) => f.name === name)).toBe(true);
  return (await folderList()).find((f) => f.name === name) as { id: string; name: string; parent: string | null };
}
const tree = () => h.page.getByRole('navigation', { name: 'Folders' });
const dialog = () => h.page.getByRole('dialog').first();
const inFiles = (id: string) => h.page.locator(`#files [data-id="${id}"]`);

async function openFolder(name: string): Promise<void> {
  await tree().getByRole('button', { name, exact: true }).click();
  await h.page.locator('#crumbs [aria-current="page"]', { hasText: name }).waitFor();
}

/** Answers the page's next question (the small modal) with `value`, by `ok`. */
async function answer(value: { name?: string; folder?: string }, ok: string): Promise<void> {
  const ask = h.page.locator('#ask');
  await ask.waitFor();
  if (value.name !== undefined) await ask.getByLabel('Name').fill(value.name);
  if (value.folder !== undefined) await ask.getByLabel('Folder').selectOption({ label: value.folder });
  await ask.getByRole('button', { name: ok }).click();
  await ask.waitFor({ state: 'hidden' });
}

function confirmNext(): Promise<string> {
  return new Promise((resolve) => h.page.once('dialog', (d) => {
    resolve(d.message());
    void d.accept();
  }));
}

const picture = (width: number, height: number, colour: string) => sharp({ create: { width, height, channels: 3, background: colour } });

beforeAll(async () => {
  h = await startHarness({ vars: { ASSETS_TRANSFORM_MAX_PIXELS: '4000000' } });
  base = h.stack.base;
}, 180_000);

afterAll(async () => {
  await h?.stop();
});

describe('/admin: the library', () => {
  it('a file whose thumbnail is refused (422) opens, shows its facts and the API\'s message, and can be deleted', async () => {
    const gif = new Uint8Array(await picture(2500, 2000, '#7b5ea7').gif().toBuffer());
    const big = await upload(base, 'too-many-pixels.gif', gif, 'image/gif');
    // The browser logs the refused thumbnail requests itself; the page shows them.
    h.expected.push({ text: /status of 422/, url: new RegExp(`/assets/${big.id}\\?key=system-`) });
    await signIn(h.page, base);
    const card = inFiles(big.id);
    await expect.poll(() => card.locator('.why').textContent(), { timeout: 20_000 }).toMatch(/^No preview: .*pixels.*ASSETS_TRANSFORM_MAX_PIXELS/);
    await card.getByRole('button', { name: /too-many-pixels\.gif/ }).click();
    await expect.poll(() => dialog().locator('#details-facts').textContent()).toContain('2500 × 2000');
    expect(await dialog().locator('#details-facts').textContent()).toContain('image/gif');
    await expect.poll(() => dialog().locator('.no-preview').textContent(), { timeout: 20_000 }).toMatch(/image\/gif.*No preview: .*ASSETS_TRANSFORM_MAX_PIXELS/);
    const asked = confirmNext();
    await dialog().getByRole('button', { name: 'Delete' }).click();
    expect(await asked).toContain('too-many-pixels.gif');
    await expect.poll(async () => findFile(base, 'too-many-pixels.gif')).toBeUndefined();
    await dialog().waitFor({ state: 'hidden' });
  });

  it('folders: create, rename, move by drag and by menu, delete; files move by drag and by "Move to…"', async () => {
    const loose = await upload(base, 'drag-me.txt', 'drag me', 'text/plain');
    await h.page.getByRole('button', { name: 'New folder' }).click();
    await answer({ name: 'Projects' }, 'Create');
    await h.page.locator('#crumbs [aria-current="page"]', { hasText: 'Projects' }).waitFor();
    const projects = await folderNamed('Projects');
    expect(projects.parent).toBeNull();
    await h.page.getByRole('button', { name: 'Rename folder' }).click();
    await answer({ name: 'Client work' }, 'Rename');
    await tree().getByRole('button', { name: 'Client work' }).waitFor();
    expect((await folderList()).find((f) => f.id === projects.id)?.name).toBe('Client work');

    await openFolder('All files');
    await h.page.getByRole('button', { name: 'New folder' }).click();
    await answer({ name: 'Archive' }, 'Create');
    const archive = await folderNamed('Archive');
    // A folder dragged onto another moves into it; "Move folder…" moves it back to the root.
    await tree().getByRole('button', { name: 'Archive' }).dragTo(tree().getByRole('button', { name: 'Client work' }));
    await expect.poll(async () => (await folderList()).find((f) => f.id === archive.id)?.parent).toBe(projects.id);
    await openFolder('Archive');
    await h.page.getByRole('button', { name: 'Move folder…' }).click();
    await answer({ folder: 'All files (no folder)' }, 'Move');
    await expect.poll(async () => (await folderList()).find((f) => f.id === archive.id)?.parent).toBeNull();

    // A file dragged onto a folder moves into it.
    await openFolder('All files');
    await inFiles(loose.id).dragTo(tree().getByRole('button', { name: 'Client work' }));
    await expect.poll(async () => (await file(loose.id)).folder).toBe(projects.id);
    await expect.poll(() => h.page.locator('#files-status').textContent()).toBe('Moved 1 file to Client work.');
    // "Move to…" in its details moves it again.
    await openFolder('Client work');
    await inFiles(loose.id).getByRole('button', { name: /drag-me\.txt/ }).click();
    await dialog().getByRole('button', { name: 'Move to…' }).click();
    await answer({ folder: 'Archive' }, 'Move');
    await expect.poll(async () => (await file(loose.id)).folder).toBe(archive.id);
    await expect.poll(() => h.page.locator('#details-output').textContent()).toBe('Moved to Archive.');
    await dialog().getByRole('button', { name: 'Close' }).click();

    // Deleting a folder moves its files to the root, as the API does.
    await openFolder('Archive');
    const asked = confirmNext();
    await h.page.getByRole('button', { name: 'Delete folder' }).click();
    expect(await asked).toMatch(/Delete the folder "Archive"\? Its files and subfolders move to All files/);
    await expect.poll(async () => (await folderList()).some((f) => f.id === archive.id)).toBe(false);
    expect((await file(loose.id)).folder).toBeNull();
    await h.page.locator('#crumbs [aria-current="page"]', { hasText: 'All files' }).waitFor();
    expect(await tree().getByRole('button', { name: 'Archive' }).count()).toBe(0);
  });

  it('the list view sorts by size both ways, and the browser remembers view and order', async () => {
    const sizes = await makeFolder(base, 'Sizes');
    for (const [name, n] of [['mid.txt', 500], ['small.txt', 5], ['large.txt', 50_000]] as const) await upload(base, name, 'x'.repeat(n), 'text/plain', { folder: sizes.id });
    await h.page.reload();
    await openFolder('Sizes');
    await h.page.getByRole('button', { name: 'List view' }).click();
    const names = () => h.page.locator('#files tbody tr .sub').allTextContents();
    await h.page.getByRole('button', { name: 'Sort by size' }).click();
    await expect.poll(names).toEqual(['small.txt', 'mid.txt', 'large.txt']);
    expect(await h.page.locator('th[aria-sort="ascending"]').textContent()).toBe('Size');
    await h.page.getByRole('button', { name: 'Sort by size' }).click();
    await expect.poll(names).toEqual(['large.txt', 'mid.txt', 'small.txt']);
    expect(await h.page.locator('th[aria-sort="descending"]').textContent()).toBe('Size');
    // Columns: title, type, size, dimensions, uploaded.
    expect(await h.page.locator('#files thead th').allTextContents()).toEqual(['Selected', 'Title', 'Type', 'Size', 'Dimensions', 'Uploaded']);
    await h.page.reload();
    await openFolder('Sizes');
    await expect.poll(names).toEqual(['large.txt', 'mid.txt', 'small.txt']);
    expect(await h.page.locator('#sort').inputValue()).toBe('-filesize');
    await h.page.getByRole('button', { name: 'Grid view' }).click();
    await h.page.locator('#sort').selectOption({ label: 'Newest first' });
  });

  it('selects three files (a Shift-click range), moves them, then deletes them through the batch routes', async () => {
    const pick = await makeFolder(base, 'Pick');
    const target = await makeFolder(base, 'Target');
    for (const n of [1, 2, 3, 4]) await upload(base, `pick-${n}.txt`, `pick ${n}`, 'text/plain', { folder: pick.id });
    await h.page.reload();
    await openFolder('Pick');
    const ids = await h.page.locator('#files [data-id]').evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.id ?? ''));
    expect(ids).toHaveLength(4);
    await inFiles(ids[0] ?? '').getByRole('checkbox').click();
    await inFiles(ids[2] ?? '').getByRole('checkbox').click({ modifiers: ['Shift'] });
    await expect.poll(() => h.page.locator('#selection-count').textContent()).toBe('3 selected');
    const moves: string[] = [];
    h.page.on('request', (r) => r.url().endsWith('/files') && moves.push(r.method()));
    await h.page.getByRole('button', { name: 'Move selected' }).click();
    await answer({ folder: 'Target' }, 'Move');
    for (const id of ids.slice(0, 3)) await expect.poll(async () => (await file(id)).folder).toBe(target.id);
    expect((await file(ids[3] ?? '')).folder).toBe(pick.id);
    await expect.poll(() => h.page.locator('#files [data-id]').count()).toBe(1);
    await openFolder('Target');
    // The crumbs change before the folder's list arrives; "Select all" over an empty list stays unchecked.
    await expect.poll(() => h.page.locator('#files [data-id]').count()).toBe(3);
    await h.page.getByLabel('Select all').check();
    await expect.poll(() => h.page.locator('#selection-count').textContent()).toBe('3 selected');
    const asked = confirmNext();
    await h.page.getByRole('button', { name: 'Delete selected' }).click();
    expect(await asked).toBe('Delete 3 files? This cannot be undone.');
    for (const id of ids.slice(0, 3)) await expect.poll(async () => (await fetch(`${base}/files/${id}`, { headers: { authorization: `Bearer ${STACK_TOKEN}` } })).status).toBe(404);
    // One batch request each way, not one per file.
    expect(moves).toEqual(['PATCH', 'DELETE']);
    await expect.poll(() => h.page.locator('#files-empty').textContent()).toBe('Target has no files yet.');
  });

  it('previews: a video plays, a PDF opens in the browser\'s viewer, an SVG shows as an image; the focal point is offered on pictures only', async () => {
    const video = await upload(base, 'clip.webm', fixture('media-video.webm'), 'video/webm');
    const pdf = await upload(base, 'paper.pdf', fixture('doc.pdf'), 'application/pdf');
    const svg = await upload(base, 'logo.svg', fixture('image.svg'), 'image/svg+xml');
    await h.page.reload();
    await openFolder('All files');

    await inFiles(video.id).getByRole('button').click();
    const player = dialog().locator('video');
    await player.waitFor();
    expect(await h.page.locator('#focal-hint').isVisible()).toBe(false);
    const time = await player.evaluate(async (v: HTMLVideoElement) => {
      v.muted = true;
      await v.play();
      await new Promise((r) => setTimeout(r, 1200));
      return v.currentTime;
    });
    expect(time).toBeGreaterThan(0.5);
    await dialog().getByRole('button', { name: 'Close' }).click();

    await inFiles(pdf.id).getByRole('button').click();
    const frame = dialog().locator('iframe[title="PDF: Paper"]');
    await frame.waitFor();
    // The frame holds the browser's PDF viewer (a policy that refused it would leave an error page instead).
    await expect.poll(() => frame.evaluate((f: HTMLIFrameElement) => f.contentDocument?.querySelector('embed')?.getAttribute('type') ?? f.contentDocument?.contentType ?? 'none'), { timeout: 10_000 }).toBe('application/pdf');
    await dialog().getByRole('button', { name: 'Close' }).click();

    await inFiles(svg.id).getByRole('button').click();
    const image = dialog().locator('#details-media img');
    await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), { timeout: 10_000 }).toBe(10);
    expect(await h.page.locator('#focal-hint').isVisible()).toBe(false);
    await dialog().getByRole('button', { name: 'Close' }).click();
    // In the grid, the SVG is its own thumbnail.
    await expect.poll(() => inFiles(svg.id).locator('img').evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(10);
  });

  it('uploads land in the open folder: through the Upload button and dropped on the window', async () => {
    await h.page.getByRole('button', { name: 'New folder' }).click();
    await answer({ name: 'Inbox' }, 'Create');
    const inbox = await folderNamed('Inbox');
    writeFileSync(join(dir, 'chosen.txt'), 'chosen through the button');
    const chooser = h.page.waitForEvent('filechooser');
    await h.page.getByRole('button', { name: 'Upload', exact: true }).click();
    await (await chooser).setFiles(join(dir, 'chosen.txt'));
    await expect.poll(async () => (await findFile(base, 'chosen.txt'))?.folder, { timeout: 30_000 }).toBe(inbox.id);
    await expect.poll(() => h.page.locator('#upload-list li.done').count()).toBe(1);
    await h.page.getByRole('button', { name: /chosen\.txt/ }).waitFor();

    // Files dragged over the window show the drop target, naming the folder; dropped, they upload there.
    const drag = await h.page.evaluateHandle(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(['dropped on the window'], 'dropped.txt', { type: 'text/plain' }));
      return dt;
    });
    await h.page.evaluate((dt) => window.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt })), drag);
    await h.page.getByText('Drop files to upload to Inbox').waitFor();
    await h.page.evaluate((dt) => window.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, cancelable: true })), drag);
    await h.page.locator('#drop-overlay').waitFor({ state: 'hidden' });
    await expect.poll(async () => (await findFile(base, 'dropped.txt'))?.folder, { timeout: 30_000 }).toBe(inbox.id);
    await h.page.getByRole('button', { name: /dropped\.txt/ }).waitFor();
    await h.page.getByRole('button', { name: 'Clear finished' }).click();
    await h.page.locator('#uploads').waitFor({ state: 'hidden' });
  });

  it('with the keyboard alone: sign in, open a file, move it, close the dialog', async () => {
    const moving = await upload(base, 'keys.txt', 'moved by keys', 'text/plain');
    const shelf = await makeFolder(base, 'Shelf');
    await h.page.getByRole('button', { name: 'Sign out' }).click();
    await h.page.getByLabel('Access token').waitFor();
    const k = h.page.keyboard;
    const focused = () => h.page.evaluate(() => `${document.activeElement?.getAttribute('aria-label') ?? ''}|${document.activeElement?.textContent ?? ''}|${document.activeElement?.id ?? ''}`);
    async function tabTo(match: RegExp): Promise<void> {
      for (let i = 0; i < 80 && !match.test(await focused()); i++) await k.press('Tab');
      expect(await focused()).toMatch(match);
    }
    expect(await focused()).toMatch(/\|token$/);
    await k.type(STACK_TOKEN);
    await k.press('Enter');
    await h.page.getByRole('searchbox', { name: 'Search' }).waitFor();
    await inFiles(moving.id).waitFor();
    await tabTo(/^Keys \(keys\.txt\)/);
    await k.press('Enter');
    await dialog().waitFor();
    await tabTo(/^\|Move to…\|/);
    await k.press('Enter');
    await h.page.locator('#ask').waitFor();
    const select = h.page.locator('#ask-control');
    for (let i = 0; i < 20 && (await select.inputValue()) !== shelf.id; i++) await k.press('ArrowDown');
    expect(await select.inputValue()).toBe(shelf.id);
    await tabTo(/\|ask-ok$/);
    await k.press('Enter');
    await expect.poll(async () => (await file(moving.id)).folder).toBe(shelf.id);
    await expect.poll(() => h.page.locator('#details-output').textContent()).toBe('Moved to Shelf.');
    await k.press('Escape');
    await expect.poll(() => h.page.locator('#details').evaluate((d: HTMLDialogElement) => d.open)).toBe(false);
  });

  it('while a thumbnail loads, the image\'s ThumbHash shows in its place, then the thumbnail', async () => {
    const art = Buffer.from('<svg width="600" height="300"><rect width="300" height="300" fill="#d00000"/><rect x="300" width="300" height="300" fill="#0000d0"/></svg>');
    const made = await upload(base, 'placeholder-halves.jpg', new Uint8Array(await sharp(art).jpeg({ quality: 90 }).toBuffer()), 'image/jpeg');
    await expect.poll(async () => (await apiJson<FileJson & { thumbhash: string | null }>(base, `/files/${made.id}`)).thumbhash, { timeout: 10_000 }).toBeTruthy();
    // The thumbnail's answer is held back until the placeholder has been seen.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await h.page.route(`**/assets/${made.id}?**`, async (route) => {
      await held;
      await route.continue();
    });
    await h.page.reload();
    const box = inFiles(made.id).locator('.placeholder');
    await box.waitFor();
    const look = await box.evaluate((el) => {
      const style = getComputedStyle(el);
      return { image: style.backgroundImage, size: style.backgroundSize, loaded: el.classList.contains('loaded') };
    });
    expect(look.image).toMatch(/^url\("data:image\/png;base64,/);
    expect(look.size).toBe('cover');
    expect(look.loaded).toBe(false);
    if (process.env.SCREENSHOTS) await box.screenshot({ path: 'docs/screenshots/placeholder-while-loading.png' });
    release();
    await expect.poll(() => box.evaluate((el) => el.classList.contains('loaded')), { timeout: 20_000 }).toBe(true);
    await h.page.unroute(`**/assets/${made.id}?**`);
    expect((await fetch(`${base}/files/${made.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${STACK_TOKEN}` } })).status).toBe(204);
  });

  it('looks as designed: screenshots of the grid, the list and the details (SCREENSHOTS=1)', async () => {
    const gallery = await makeFolder(base, 'Gallery');
    const colours = ['#2f6f9f', '#e07a5f', '#3d405b', '#81b29a', '#f2cc8f', '#6d597a'];
    const names = ['harbour-at-dawn', 'terracotta-roofs', 'night-train', 'meadow', 'wheat-field', 'lavender'];
    for (const [i, colour] of colours.entries()) {
      const art = Buffer.from(`<svg width="960" height="640"><rect width="960" height="640" fill="${colour}"/><circle cx="${200 + i * 110}" cy="260" r="170" fill="#ffffff" fill-opacity="0.35"/><rect y="420" width="960" height="220" fill="#000000" fill-opacity="0.18"/></svg>`);
      await upload(base, `${names[i]}.jpg`, new Uint8Array(await sharp(art).jpeg({ quality: 80 }).toBuffer()), 'image/jpeg', { folder: gallery.id });
    }
    await upload(base, 'field-notes.pdf', fixture('doc.pdf'), 'application/pdf', { folder: gallery.id });
    await upload(base, 'ambient.webm', fixture('media-video.webm'), 'video/webm', { folder: gallery.id });
    await makeFolder(base, 'Prints', gallery.id);
    await h.page.reload();
    await openFolder('Gallery');
    const thumbsLoaded = async () => {
      await expect.poll(() => h.page.locator('#files img').evaluateAll((imgs) => imgs.every((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0)), { timeout: 20_000 }).toBe(true);
    };
    await thumbsLoaded();
    await screenshots(h.page, 'library-grid', thumbsLoaded);
    await h.page.getByRole('button', { name: 'List view' }).click();
    await screenshots(h.page, 'library-list', thumbsLoaded);
    await h.page.getByRole('button', { name: 'Grid view' }).click();
    await h.page.getByRole('button', { name: /harbour-at-dawn\.jpg/ }).click();
    await expect.poll(() => h.page.locator('#details-preview').evaluate((img: HTMLImageElement) => img.naturalWidth), { timeout: 20_000 }).toBe(800);
    await screenshots(h.page, 'library-details');
    await dialog().getByRole('button', { name: 'Close' }).click();
    expect(await h.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
  });

  it('no console error, uncaught error or 5xx answer happened on the way', () => {
    expect(h.errors, h.errors.join('\n')).toEqual([]);
  });
});
