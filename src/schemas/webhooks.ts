import * as z from 'zod/mini';
import { itemOf, listOf } from './common';
import { named } from './registry';

/** The events a webhook can subscribe to (Directus's names for the same actions). */
export const FILE_EVENT_TYPES = ['files.upload', 'files.update', 'files.delete'] as const;
export type FileEventType = (typeof FILE_EVENT_TYPES)[number];

const fields = {
  url: z.string().check(z.maxLength(2048, { error: 'must be at most 2048 characters' })),
  events: z.array(z.enum(FILE_EVENT_TYPES, { error: `each event must be one of ${FILE_EVENT_TYPES.join(', ')}` })).check(
    z.minLength(1, { error: 'must name at least one event' }),
  ),
  paused: z.boolean({ error: 'must be true or false' }),
};

/** POST /webhooks: validated by createWebhook (src/webhooks/service.ts); the URL also by the import guard. */
export const webhookInput = named(
  z.strictObject({ url: fields.url, events: fields.events, paused: z.optional(fields.paused) }),
  'WebhookInput',
  'A receiver URL (through the import guard: IMPORT_IP_ALLOW_LIST opens private addresses) and the file events it gets.',
);

/** PATCH /webhooks/:id. */
export const webhookPatch = named(
  z.strictObject({ url: z.optional(fields.url), events: z.optional(fields.events), paused: z.optional(fields.paused) }),
  'WebhookPatch',
  'The fields to change; `paused: true` stops deliveries.',
);

/** A webhook as the API answers it. The secret is not part of it: only creation shows it, once. */
export const webhookRecord = named(
  z.object({ id: z.string(), url: z.string(), events: z.array(z.string()), paused: z.boolean(), created_on: z.string(), modified_on: z.string() }),
  'Webhook',
  'A webhook subscription.',
);

export const webhookCreated = named(
  z.extend(webhookRecord, { secret: z.string() }),
  'WebhookCreated',
  'A new webhook, with its Standard Webhooks secret (`whsec_…`): shown this once.',
);

/** One delivery attempt, newest first in GET /webhooks/:id/attempts. */
export const webhookAttempt = named(
  z.object({
    webhook_id: z.string(),
    message_id: z.string(),
    event: z.string(),
    file_id: z.nullable(z.string()),
    attempt: z.int(),
    status: z.nullable(z.int()),
    outcome: z.enum(['delivered', 'retrying', 'dead', 'dropped']),
    error: z.nullable(z.string()),
    duration_ms: z.int(),
    attempted_on: z.string(),
  }),
  'WebhookAttempt',
  'A delivery attempt: the receiver\'s status (null when it gave none) and the outcome.',
);

export const webhookAnswer = itemOf(webhookRecord);
export const webhookCreatedAnswer = itemOf(webhookCreated);
export const webhooksAnswer = listOf(webhookRecord);
export const webhookAttemptsAnswer = listOf(webhookAttempt);

export type WebhookJson = z.output<typeof webhookRecord>;
