/**
 * Settings → Webhooks (admin): the webhooks (`/webhooks`), a form that makes one and shows its
 * `whsec_` secret the one time the API gives it, pause/resume and delete, and each webhook's last
 * delivery attempts (`/webhooks/:id/attempts`), dead-lettered ones marked. While Settings is on
 * screen the attempts are read again every few seconds; only the attempt tables are redrawn then,
 * so a focused button keeps its focus.
 */
import { $, api, date, el, json, messageOf, send } from './api';

interface Webhook { id: string; url: string; events: string[]; paused: boolean; created_on: string }
interface Attempt { message_id: string; event: string; file_id: string; attempt: number; status: number | null; outcome: 'delivered' | 'retrying' | 'dead'; error: string | null; attempted_on: string }

/** Attempts shown per webhook (the API keeps 50). */
const SHOWN = 10;
const REFRESH_MS = 5000;
const OUTCOME = { delivered: 'Delivered', retrying: 'Failed, will retry', dead: 'Dead-lettered' } as const;

let timer: ReturnType<typeof setInterval> | undefined;
/** Each listed webhook's attempts area, redrawn by refreshAttempts. */
const areas = new Map<string, HTMLElement>();

function status(message: string): void {
  $('webhooks-status').textContent = message;
}

async function act(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    status(messageOf(error));
  }
}

/** Reads the webhooks and draws them; then their attempts, again every REFRESH_MS while Settings shows. */
export async function loadWebhooks(): Promise<void> {
  await act(async () => {
    const hooks = await json<Webhook[]>('/webhooks');
    areas.clear();
    $('webhooks').replaceChildren(...hooks.map(hookItem));
    $('webhooks-empty').hidden = hooks.length > 0;
    await refreshAttempts();
  });
  clearInterval(timer);
  timer = setInterval(() => {
    if ($('settings-view').hidden) clearInterval(timer);
    else if (document.visibilityState === 'visible') void refreshAttempts().catch((error: unknown) => status(messageOf(error)));
  }, REFRESH_MS);
}

function hookItem(hook: Webhook): HTMLLIElement {
  const state = el('span', { className: `state ${hook.paused ? 'paused' : 'active'}`, textContent: hook.paused ? 'Paused' : 'Active' });
  const toggle = el('button', { type: 'button', className: 'quiet small', textContent: hook.paused ? 'Resume' : 'Pause' });
  toggle.setAttribute('aria-label', `${hook.paused ? 'Resume' : 'Pause'} ${hook.url}`);
  toggle.addEventListener('click', () => void act(async () => {
    await json(`/webhooks/${hook.id}`, send('PATCH', { paused: !hook.paused }));
    status(`${hook.paused ? 'Resumed' : 'Paused'}: ${hook.url}`);
    await loadWebhooks();
  }));
  const remove = el('button', { type: 'button', className: 'quiet small danger', textContent: 'Delete' });
  remove.setAttribute('aria-label', `Delete ${hook.url}`);
  remove.addEventListener('click', () => void act(async () => {
    if (!confirm(`Delete the webhook to ${hook.url}? It gets nothing more, not even what is queued.`)) return;
    await api(`/webhooks/${hook.id}`, { method: 'DELETE' });
    status(`Deleted: ${hook.url}`);
    await loadWebhooks();
  }));
  const attempts = el('div', { className: 'attempts' });
  areas.set(hook.id, attempts);
  return el(
    'li',
    { className: 'webhook', attrs: { 'aria-label': `Webhook ${hook.url}` } },
    el('div', { className: 'webhook-head' }, el('code', { className: 'url', textContent: hook.url }), state, el('span', { className: 'actions' }, toggle, remove)),
    el('p', { className: 'muted events', textContent: `${hook.events.join(', ')} · since ${date(hook.created_on)}` }),
    attempts,
  );
}

/** Redraws each webhook's last attempts, newest first. */
async function refreshAttempts(): Promise<void> {
  await Promise.all([...areas].map(async ([id, area]) => {
    const attempts = await json<Attempt[]>(`/webhooks/${id}/attempts`);
    area.replaceChildren(...attemptsView(attempts));
  }));
}

function attemptsView(attempts: Attempt[]): Node[] {
  if (attempts.length === 0) return [el('p', { className: 'muted', textContent: 'No deliveries yet.' })];
  const dead = attempts.filter((a) => a.outcome === 'dead').length;
  const summary = el('p', { className: 'muted', textContent: `Last ${Math.min(SHOWN, attempts.length)} of ${attempts.length} attempts kept` });
  if (dead) summary.append(' · ', el('strong', { className: 'dead-count', textContent: `${dead} dead-lettered` }));
  const head = el('tr', {}, ...['Time', 'Event', 'File', 'Attempt', 'Status', 'Outcome', 'Error'].map((t) => el('th', { scope: 'col', textContent: t })));
  const rows = attempts.slice(0, SHOWN).map((a) =>
    el(
      'tr',
      { className: a.outcome },
      el('td', { textContent: date(a.attempted_on) }),
      el('td', { textContent: a.event }),
      el('td', { className: 'file', textContent: a.file_id, title: a.file_id }),
      el('td', { className: 'num', textContent: String(a.attempt) }),
      el('td', { className: 'num', textContent: a.status === null ? '—' : String(a.status) }),
      el('td', {}, el('span', { className: `outcome ${a.outcome}`, textContent: OUTCOME[a.outcome] })),
      el('td', { className: 'why', textContent: a.error ?? '' }),
    ),
  );
  return [summary, el('div', { className: 'table-wrap' }, el('table', { className: 'attempts-table' }, el('thead', {}, head), el('tbody', {}, ...rows)))];
}

async function create(event: Event): Promise<void> {
  event.preventDefault();
  const events = [...$('webhook-events').querySelectorAll<HTMLInputElement>('input:checked')].map((i) => i.value);
  await act(async () => {
    const made = await json<Webhook & { secret: string }>('/webhooks', send('POST', { url: $<HTMLInputElement>('webhook-url').value.trim(), events }));
    $<HTMLInputElement>('webhook-url').value = '';
    $('webhook-secret-value').textContent = made.secret;
    $('webhook-secret-for').textContent = made.url;
    $('webhook-secret').hidden = false;
    status(`Added: ${made.url}`);
    await loadWebhooks();
    $('copy-secret').focus();
  });
}

/** Once dismissed (or on signing out), the secret is gone from the page too: the API never gives it again. */
export function forgetSecret(): void {
  $('webhook-secret-value').textContent = '';
  $('webhook-secret').hidden = true;
}

export function initWebhooks(): void {
  $('webhook-form').addEventListener('submit', (e) => void create(e));
  $('copy-secret').addEventListener('click', () => void act(async () => {
    await navigator.clipboard.writeText($('webhook-secret-value').textContent ?? '');
    status('Secret copied.');
  }));
  $('dismiss-secret').addEventListener('click', forgetSecret);
  $('refresh-attempts').addEventListener('click', () => void loadWebhooks());
}
