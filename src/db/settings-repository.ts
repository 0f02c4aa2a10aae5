import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { type AssetPreset, settings } from './schema';

export interface AssetSettings {
  storage_asset_transform: 'all' | 'presets' | 'none';
  storage_asset_presets: AssetPreset[];
}

/** The D1 adapter for the one settings row (id 1); defaults when it was never written. */
export class SettingsRepository {
  private readonly db;

  constructor(d1: D1Database) {
    this.db = drizzle(d1);
  }

  async get(): Promise<AssetSettings> {
    const row = await this.db.select().from(settings).where(eq(settings.id, 1)).get();
    return { storage_asset_transform: row?.storageAssetTransform ?? 'all', storage_asset_presets: row?.storageAssetPresets ?? [] };
  }

  async put(value: AssetSettings): Promise<AssetSettings> {
    const row = { storageAssetTransform: value.storage_asset_transform, storageAssetPresets: value.storage_asset_presets, modifiedOn: new Date().toISOString() };
    await this.db.insert(settings).values({ id: 1, ...row }).onConflictDoUpdate({ target: settings.id, set: row });
    return value;
  }
}
