import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { type AssetPreset, settings, type SettingsRow } from './schema';

export type FileNaming = SettingsRow['fileNaming'];

export interface AssetSettings {
  storage_asset_transform: 'all' | 'presets' | 'none';
  storage_asset_presets: AssetPreset[];
  /** How new bytes are keyed in storage: `<id>.<ext>` (`uuid`), or the upload's name made safe (`original`). */
  file_naming: FileNaming;
}

function toSettings(row: SettingsRow | undefined): AssetSettings {
  return {
    storage_asset_transform: row?.storageAssetTransform ?? 'all',
    storage_asset_presets: row?.storageAssetPresets ?? [],
    file_naming: row?.fileNaming ?? 'uuid',
  };
}

/** The D1 adapter for the one settings row (id 1); defaults when it was never written. */
export class SettingsRepository {
  private readonly db;

  constructor(d1: D1Database) {
    this.db = drizzle(d1);
  }

  async get(): Promise<AssetSettings> {
    return toSettings(await this.db.select().from(settings).where(eq(settings.id, 1)).get());
  }

  /**
   * Writes the settings `patch` names, and only those, in one upsert, and returns the row as it
   * then is: two concurrent changes of different settings both land (a read, merge and write of the
   * whole row would lose one).
   */
  async put(patch: Partial<AssetSettings>): Promise<AssetSettings> {
    const set = {
      ...(patch.storage_asset_transform === undefined ? {} : { storageAssetTransform: patch.storage_asset_transform }),
      ...(patch.storage_asset_presets === undefined ? {} : { storageAssetPresets: patch.storage_asset_presets }),
      ...(patch.file_naming === undefined ? {} : { fileNaming: patch.file_naming }),
      modifiedOn: new Date().toISOString(),
    };
    const [row] = await this.db.insert(settings).values({ id: 1, ...set }).onConflictDoUpdate({ target: settings.id, set }).returning();
    return toSettings(row);
  }
}
