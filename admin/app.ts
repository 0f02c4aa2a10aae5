/**
 * The file library page (`/admin`): a client of the public API only (`/tokens/me`, `/files`,
 * `/folders`, `/files/tus`, `/assets`, `/settings`, `/webhooks`), so it is also an example of using
 * it. The token lives in this tab's session storage, never in a URL. This module signs in and out
 * and switches between the files and Settings; each view is a module of its own:
 * folders.ts (sidebar), files-view.ts + files-render.ts (grid, list, selection), details.ts +
 * preview.ts (one file), upload-panel.ts + upload.ts (uploads), settings.ts + webhooks.ts (Settings),
 * ask.ts (small questions).
 */
import './app.css';
import { $, json, type Me, messageOf, revokeUrls, session } from './api';
import { initAsk } from './ask';
import { initDetails, openDetails } from './details';
import { initFiles, loadFiles, moveAndSay } from './files-view';
import { folders, initFolders, loadFolders } from './folders';
import { initSettings, loadSettings } from './settings';
import { initUploads, startUploads, stopUploads } from './upload-panel';
import { forgetSecret, initWebhooks, loadWebhooks } from './webhooks';

const SCOPE_WORDS = { read: 'Read only', upload: 'Read and upload', admin: 'Full access' } as const;

async function signIn(candidate: string): Promise<void> {
  session.token = candidate;
  const me = await json<Me>('/tokens/me');
  session.me = me;
  session.remember();
  $('signin').hidden = true;
  $('library').hidden = false;
  $('who-name').textContent = me.name;
  $('who-scope').textContent = SCOPE_WORDS[me.scope];
  $('who-scope').dataset.scope = me.scope;
  $('who').title = `Token "${me.name}", scope ${me.scope}${me.expires_on ? `, valid until ${new Date(me.expires_on).toLocaleString()}` : ''}`;
  $('nav-settings').hidden = !session.may('admin');
  $('new-folder').hidden = !session.may('upload');
  if (session.may('upload')) startUploads();
  await loadFolders();
  route();
}

function signOut(): void {
  session.forget();
  stopUploads();
  revokeUrls();
  forgetSecret();
  folders.open = null;
  $('files').replaceChildren();
  $('library').hidden = true;
  $('signin').hidden = false;
  $<HTMLInputElement>('token').value = '';
  $<HTMLInputElement>('token').focus();
}

function route(): void {
  if (!session.me) return;
  const settings = location.hash === '#settings' && session.may('admin');
  $('settings-view').hidden = !settings;
  $('files-view').hidden = settings;
  $('nav-files').toggleAttribute('aria-current', !settings);
  $('nav-settings').toggleAttribute('aria-current', settings);
  if (settings) {
    void loadSettings();
    void loadWebhooks();
  } else void loadFiles();
}

document.addEventListener('DOMContentLoaded', () => {
  $('signin-form').addEventListener('submit', (event) => {
    event.preventDefault();
    $('signin-error').textContent = '';
    signIn($<HTMLInputElement>('token').value.trim()).catch((error: unknown) => {
      session.forget();
      $('signin-error').textContent = messageOf(error);
    });
  });
  $('signout').addEventListener('click', signOut);
  initAsk();
  initFolders({ opened: () => void loadFiles(), moveFiles: moveAndSay });
  initFiles((id) => void openDetails(id));
  initDetails();
  initSettings();
  initWebhooks();
  initUploads(() => void loadFiles());
  window.addEventListener('hashchange', route);
  if (session.token) void signIn(session.token).catch(signOut);
});
