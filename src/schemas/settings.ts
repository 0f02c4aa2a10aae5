import * as z from 'zod/mini';
import { itemOf } from './common';
import { named } from './registry';

const fit = z.enum(['cover', 'contain', 'inside', 'outside']);
const format = z.enum(['jpg', 'jpeg', 'png', 'webp', 'avif', 'tiff', 'auto']);
const transformMode = z.enum(['all', 'presets', 'none']);
const fileNaming = z.enum(['uuid', 'original']);

/** A thumbnail preset (Directus's `storage_asset_presets` entry). */
export const assetPreset = named(
  z.strictObject({
    key: z.string().check(z.regex(/^[a-zA-Z0-9_-]{1,64}$/, { error: 'a preset key uses letters, digits, _ and - (at most 64)' })),
    fit: z.optional(fit),
    width: z.optional(z.int().check(z.gte(1), z.lte(20000))),
    height: z.optional(z.int().check(z.gte(1), z.lte(20000))),
    quality: z.optional(z.int().check(z.gte(1), z.lte(100))),
    withoutEnlargement: z.optional(z.boolean()),
    format: z.optional(format),
    transforms: z.optional(z.array(z.unknown())),
  }),
  'AssetPreset',
  'A thumbnail preset, `/assets/<id>?key=<key>`. `transforms` are Directus `[operation, ...arguments]` lists.',
);

/** PATCH /settings: validated by updateAssetSettings (src/settings/service.ts), which also checks keys and sizes. */
export const settingsPatch = named(
  z.strictObject({
    storage_asset_transform: z.optional(transformMode),
    storage_asset_presets: z.optional(z.nullable(z.array(assetPreset))),
    file_naming: z.optional(fileNaming),
  }),
  'SettingsPatch',
  'The settings to change.',
);

export const settingsRecord = named(
  z.object({ storage_asset_transform: transformMode, storage_asset_presets: z.array(assetPreset), file_naming: fileNaming }),
  'Settings',
  'The asset whitelist (`storage_asset_transform`, presets) and how new bytes are keyed in storage.',
);

export const settingsAnswer = itemOf(settingsRecord);
