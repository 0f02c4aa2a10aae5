import { env as workerEnv } from 'cloudflare:workers';
import type { FileRow } from '../db/schema';
import type { Bindings } from '../env';
import { type FileRecord, toRecord } from '../files/record';
import { randomToken } from '../lib/bytes';
import { log } from '../lib/log';
import type { FileEventType } from '../schemas/webhooks';
import { subscribersOf } from '../webhooks/subscribers';


/** A delivery's body (Standard Webhooks' `{type, timestamp, data}`): the record as an admin reads it. */
export interface FileEvent {
  type: FileEventType;
  timestamp: string;
  data: FileRecord;
}

/**
 * One message on the queue: one event for one webhook, so each receiver is retried on its own. `id`
 * is the delivery's `webhook-id`, fixed here so every retry carries the same one.
 */
export interface DeliveryMessage {
  id: string;
  webhook: string;
  event: FileEvent;
}

/** Where the files domain reports what it committed. */
export interface FileEvents {
  emit(type: FileEventType, row: FileRow): Promise<void>;
}

/**
 * Enqueues `type` for every webhook that subscribes to it and is not paused (the list memoised per
 * isolate for a few seconds: subscribers.ts), and one queue write when someone listens (none when no
 * one does). Awaited, since the queue is what makes the event durable; delivery happens in the
 * queue's consumer, after the answer.
 */
export function queueEvents(bindings: Pick<Bindings, 'DB' | 'WEBHOOK_EVENTS'>): FileEvents {
  return {
    async emit(type, row) {
      const queue = bindings.WEBHOOK_EVENTS;
      if (!queue) return;
      const hooks = await subscribersOf(bindings.DB, type);
      if (hooks.length === 0) return;
      const event: FileEvent = { type, timestamp: new Date().toISOString(), data: toRecord(row) };
      await queue.sendBatch(hooks.map((webhook): { body: DeliveryMessage } => ({ body: { id: `msg_${randomToken(16)}`, webhook, event } })));
    },
  };
}

/**
 * Reports a committed change of a file. Never throws: the change is done and answered whatever
 * happens here, so an event that cannot be enqueued is logged (with the file) rather than turned
 * into a failure of the upload. The Worker's bindings come from `cloudflare:workers`, so every
 * caller (a request, the TUS Durable Object) reports through the same queue without passing them.
 */
export async function emitFileEvent(type: FileEventType, row: FileRow): Promise<void> {
  try {
    await queueEvents(workerEnv as unknown as Bindings).emit(type, row);
  } catch (error) {
    log('error', 'file event not enqueued', { event: type, file: row.id, reason: (error as Error).message });
  }
}

/** `row`, once its event is reported: for the domain functions that answer with what they committed. */
export async function emitted(type: FileEventType, row: FileRow): Promise<FileRow> {
  await emitFileEvent(type, row);
  return row;
}
