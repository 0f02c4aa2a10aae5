import { eq } from 'drizzle-orm';
import { drizzle, type DrizzleD1Database } from 'drizzle-orm/d1';
import { sweepState } from './schema';

export type SweepPhase = (typeof sweepState.$inferSelect)['phase'];

/** Where a storage location's sweep goes on from: a phase and the store's marker for the next page. */
export interface SweepPosition {
  phase: SweepPhase;
  cursor: { token?: string; keyMarker?: string; uploadIdMarker?: string } | undefined;
}

/** The D1 adapter for the sweep's resume points. */
export class SweepRepository {
  private readonly db: DrizzleD1Database;

  constructor(d1: D1Database) {
    this.db = drizzle(d1);
  }

  async position(storage: string): Promise<SweepPosition> {
    const row = await this.db.select().from(sweepState).where(eq(sweepState.storage, storage)).get();
    return { phase: row?.phase ?? 'objects', cursor: row?.cursor ? (JSON.parse(row.cursor) as SweepPosition['cursor']) : undefined };
  }

  async save(storage: string, position: SweepPosition): Promise<void> {
    const values = { storage, phase: position.phase, cursor: position.cursor ? JSON.stringify(position.cursor) : null, modifiedOn: new Date().toISOString() };
    await this.db.insert(sweepState).values(values).onConflictDoUpdate({ target: sweepState.storage, set: values });
  }
}
