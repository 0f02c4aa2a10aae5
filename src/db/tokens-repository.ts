import { desc, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { type TokenRow, tokens } from './schema';

/** The D1 adapter for API tokens (stored as SHA-256 hashes). */
export class TokensRepository {
  private readonly db;

  constructor(d1: D1Database) {
    this.db = drizzle(d1);
  }

  async insert(row: typeof tokens.$inferInsert): Promise<TokenRow> {
    const [inserted] = await this.db.insert(tokens).values(row).returning();
    return inserted as TokenRow;
  }

  async findByHash(tokenHash: string): Promise<TokenRow | undefined> {
    return this.db.select().from(tokens).where(eq(tokens.tokenHash, tokenHash)).get();
  }

  async list(): Promise<TokenRow[]> {
    return this.db.select().from(tokens).orderBy(desc(tokens.createdOn));
  }

  async revoke(id: string): Promise<boolean> {
    const done = await this.db.update(tokens).set({ revokedOn: new Date().toISOString() }).where(eq(tokens.id, id)).returning({ id: tokens.id });
    return done.length > 0;
  }
}
