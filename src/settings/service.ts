import * as z from 'zod/mini';
import type { AssetPreset } from '../db/schema';
import { type AssetSettings, SettingsRepository } from '../db/settings-repository';
import { checkTransforms } from '../images/operations';
import { AppError } from '../errors/app-error';
import { hex } from '../lib/bytes';
import { settingsPatch } from '../schemas/settings';

/**
 * How long an isolate may keep the whitelist it read: a PATCH /settings is seen by every isolate
 * within this time (and at once by the isolate that made it).
 */
export const SETTINGS_TTL_MS = 5000;

let cached: { value: AssetSettings; version: Promise<string>; at: number; db: D1Database } | undefined;

function remember(value: AssetSettings, db: D1Database): AssetSettings {
  // Only the whitelist shapes a transform's answer: a change of `file_naming` keeps the edge's entries
  // (and the hash is the one the whitelist had before `file_naming` existed).
  const whitelist = { storage_asset_transform: value.storage_asset_transform, storage_asset_presets: value.storage_asset_presets };
  const version = crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify(whitelist))).then((d) => hex(d).slice(0, 16));
  cached = { value, version, at: Date.now(), db };
  return value;
}

export async function assetSettings(db: D1Database): Promise<AssetSettings> {
  if (cached && cached.db === db && Date.now() - cached.at < SETTINGS_TTL_MS) return cached.value;
  return remember(await new SettingsRepository(db).get(), db);
}

/** A short hash of the whitelist in force (as memoised): part of every edge key of a transform. */
export async function assetSettingsVersion(db: D1Database): Promise<string> {
  await assetSettings(db);
  return (cached as NonNullable<typeof cached>).version;
}

/** Validates and stores a settings change (unique preset keys, sane ranges); refreshes this isolate. */
export async function updateAssetSettings(db: D1Database, body: unknown, limits: { maxDimension: number; maxOperations: number }): Promise<AssetSettings> {
  const { maxDimension, maxOperations } = limits;
  const parsed = z.safeParse(settingsPatch, body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `"${issue.path.join('.')}"` : 'the body';
    throw new AppError('INVALID_PAYLOAD', `Invalid settings: ${where} ${issue?.message ?? 'is malformed'}.`);
  }
  const given = parsed.data.storage_asset_presets;
  const presets = (given === undefined ? [] : (given ?? [])) as AssetPreset[];
  const keys = new Set<string>();
  for (const p of presets) {
    if (keys.has(p.key)) throw new AppError('INVALID_PAYLOAD', `Preset key "${p.key}" is used twice.`);
    if (p.key.startsWith('system-')) throw new AppError('INVALID_PAYLOAD', `Preset key "${p.key}": keys starting with "system-" are the system thumbnails'.`);
    keys.add(p.key);
    if ((p.width ?? 0) > maxDimension || (p.height ?? 0) > maxDimension) {
      throw new AppError('INVALID_PAYLOAD', `Preset "${p.key}" is larger than ASSETS_TRANSFORM_IMAGE_MAX_DIMENSION (${maxDimension}).`);
    }
    if (p.transforms) checkTransforms(p.transforms, maxOperations, (message) => new AppError('INVALID_PAYLOAD', `Preset "${p.key}": ${message}`));
  }
  // Only what the body names is written, in one statement (see SettingsRepository.put).
  const value = await new SettingsRepository(db).put({
    ...(parsed.data.storage_asset_transform === undefined ? {} : { storage_asset_transform: parsed.data.storage_asset_transform }),
    ...(given === undefined ? {} : { storage_asset_presets: presets }),
    ...(parsed.data.file_naming === undefined ? {} : { file_naming: parsed.data.file_naming }),
  });
  return remember(value, db);
}
