import { WebhooksRepository } from './repository';

/**
 * How long an isolate may keep the list of webhooks that listen: a webhook created, changed, paused
 * or deleted is seen at once by the isolate that made the change and within this time by every other
 * (the README's "Webhooks" states it). Every file event needs the list; reading it from D1 per event
 * was most of what a subscribed upload added to its answer.
 */
export const SUBSCRIBERS_TTL_MS = 5000;

interface Listening {
  id: string;
  events: string[];
}

let cached: { db: D1Database; at: number; listening: Listening[] } | undefined;
// Bumped by every change: a read that started before a change never stores what it read.
let generation = 0;

/** The ids of the webhooks that are not paused and subscribe to `event`, memoised per isolate. */
export async function subscribersOf(db: D1Database, event: string): Promise<string[]> {
  if (!cached || cached.db !== db || Date.now() - cached.at >= SUBSCRIBERS_TTL_MS) {
    const started = generation;
    const at = Date.now();
    const listening = await new WebhooksRepository(db).listening();
    if (started === generation) cached = { db, at, listening };
    return pick(listening, event);
  }
  return pick(cached.listening, event);
}

const pick = (listening: Listening[], event: string) => listening.filter((l) => l.events.includes(event)).map((l) => l.id);

/** Forgets the memo: called by every write to /webhooks on this isolate. */
export function forgetSubscribers(): void {
  generation++;
  cached = undefined;
}
