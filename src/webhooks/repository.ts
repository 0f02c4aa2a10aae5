import { and, desc, eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { type WebhookAttemptRow, webhookAttempts, type WebhookRow, webhooks } from '../db/schema';

/** Attempts kept per webhook: enough to see a failing receiver's pattern, bounded however long it fails. */
export const WEBHOOK_ATTEMPTS_KEPT = 50;

export type NewAttempt = Omit<WebhookAttemptRow, 'id'>;

/** The D1 adapter for webhooks and their last delivery attempts. */
export class WebhooksRepository {
  private readonly db;

  constructor(d1: D1Database) {
    this.db = drizzle(d1);
  }

  async insert(row: typeof webhooks.$inferInsert): Promise<WebhookRow> {
    const [inserted] = await this.db.insert(webhooks).values(row).returning();
    return inserted as WebhookRow;
  }

  async get(id: string): Promise<WebhookRow | undefined> {
    return this.db.select().from(webhooks).where(eq(webhooks.id, id)).get();
  }

  async list(): Promise<WebhookRow[]> {
    return this.db.select().from(webhooks).orderBy(webhooks.createdOn, webhooks.id);
  }

  async count(): Promise<number> {
    const row = await this.db.select({ n: sql<number>`count(*)` }).from(webhooks).get();
    return row?.n ?? 0;
  }

  async update(id: string, fields: Partial<Pick<WebhookRow, 'url' | 'events' | 'paused'>>): Promise<WebhookRow | undefined> {
    const [updated] = await this.db
      .update(webhooks)
      .set({ ...fields, modifiedOn: new Date().toISOString() })
      .where(eq(webhooks.id, id))
      .returning();
    return updated;
  }

  /** Deletes the webhooks (and their attempts) in one batch; the ids that existed. */
  async delete(ids: string[]): Promise<string[]> {
    const done = await this.db.batch(
      ids.map((id) => this.db.delete(webhooks).where(eq(webhooks.id, id)).returning({ id: webhooks.id })) as [never, ...never[]],
    );
    return (done as { id: string }[][]).flat().map((r) => r.id);
  }

  /** The webhooks that are not paused, with their events: at most MAX_WEBHOOKS rows. */
  async listening(): Promise<{ id: string; events: string[] }[]> {
    return this.db.select({ id: webhooks.id, events: webhooks.events }).from(webhooks).where(eq(webhooks.paused, false));
  }

  /** Records an attempt and forgets those past the newest WEBHOOK_ATTEMPTS_KEPT of its webhook. */
  async recordAttempt(attempt: NewAttempt): Promise<void> {
    await this.db.batch([
      this.db.insert(webhookAttempts).values(attempt),
      this.db.delete(webhookAttempts).where(
        and(
          eq(webhookAttempts.webhookId, attempt.webhookId),
          sql`${webhookAttempts.id} not in (select id from webhook_attempts where webhook_id = ${attempt.webhookId} order by id desc limit ${WEBHOOK_ATTEMPTS_KEPT})`,
        ),
      ),
    ]);
  }

  /** A webhook's attempts, newest first. */
  async attempts(webhookId: string): Promise<WebhookAttemptRow[]> {
    return this.db.select().from(webhookAttempts).where(eq(webhookAttempts.webhookId, webhookId)).orderBy(desc(webhookAttempts.id));
  }
}
