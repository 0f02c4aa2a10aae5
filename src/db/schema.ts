import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * File records with Directus's `directus_files` fields. Timestamps are ISO-8601 strings (what the
 * Directus REST API returns); `tags` and `metadata` are JSON.
 */
export const files = sqliteTable(
  'files',
  {
    id: text('id').primaryKey(),
    storage: text('storage').notNull(),
    filenameDisk: text('filename_disk'),
    filenameDownload: text('filename_download').notNull(),
    title: text('title'),
    type: text('type'),
    folder: text('folder'),
    filesize: integer('filesize').notNull().default(0),
    width: integer('width'),
    height: integer('height'),
    duration: integer('duration'),
    /** An embed's video id (`type` embed/youtube or embed/vimeo); its bytes are the provider's thumbnail. */
    embed: text('embed'),
    description: text('description'),
    location: text('location'),
    tags: text('tags', { mode: 'json' }).$type<string[]>(),
    metadata: text('metadata', { mode: 'json' }).$type<Record<string, unknown>>(),
    focalPointX: integer('focal_point_x'),
    focalPointY: integer('focal_point_y'),
    checksum: text('checksum'),
    /**
     * The image's ThumbHash (base64), a placeholder to show while it loads; made after the upload
     * (src/files/placeholder.ts). Null while it is to be made; '' when there is none (not an image
     * the engine decodes, or one it refused): the API answers null for both.
     */
    thumbhash: text('thumbhash'),
    /** Unguessable per-file token for capability URLs (`/assets/<private_hash>`); rotated to revoke. */
    privateHash: text('private_hash').unique(),
    access: text('access', { enum: ['public', 'private'] }).notNull().default('public'),
    uploadedBy: text('uploaded_by'),
    createdOn: text('created_on').notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`),
    uploadedOn: text('uploaded_on'),
    modifiedOn: text('modified_on').notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`),
  },
  (t) => [
    index('files_created_on').on(t.createdOn),
    index('files_checksum').on(t.checksum),
    index('files_folder').on(t.folder),
    // The sweep asks which of a page of keys have a record.
    index('files_storage_disk').on(t.storage, t.filenameDisk),
    // The sweep's backfill asks for the oldest files still waiting for a placeholder.
    index('files_placeholder_pending').on(t.createdOn).where(sql`${t.thumbhash} is null`),
  ],
);

export interface AssetPreset {
  key: string;
  fit?: 'cover' | 'contain' | 'inside' | 'outside';
  width?: number;
  height?: number;
  quality?: number;
  withoutEnlargement?: boolean;
  format?: 'jpg' | 'jpeg' | 'png' | 'webp' | 'avif' | 'tiff' | 'auto';
  /** Directus `transforms`: `[operation, ...arguments]` lists, checked when the settings are saved. */
  transforms?: unknown[];
}

/**
 * Directus's project settings that this service reads: the thumbnail whitelist, and how new bytes
 * are named in storage (Directus 8's "File Naming": `uuid` keys, or the upload's `original` name
 * made safe, see src/files/naming.ts). One row, id 1.
 */
export const settings = sqliteTable('settings', {
  id: integer('id').primaryKey(),
  storageAssetTransform: text('storage_asset_transform', { enum: ['all', 'presets', 'none'] }).notNull().default('all'),
  storageAssetPresets: text('storage_asset_presets', { mode: 'json' }).$type<AssetPreset[]>().notNull().default(sql`'[]'`),
  fileNaming: text('file_naming', { enum: ['uuid', 'original'] }).notNull().default('uuid'),
  modifiedOn: text('modified_on').notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`),
});

export type FileRow = typeof files.$inferSelect;
export type NewFileRow = typeof files.$inferInsert;
export type SettingsRow = typeof settings.$inferSelect;

/**
 * API tokens besides ADMIN_TOKEN. Only the SHA-256 of a token is stored; the token itself is shown
 * once, when it is created. `scope`: read < upload < admin.
 */
export const tokens = sqliteTable('tokens', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  tokenHash: text('token_hash').notNull().unique(),
  scope: text('scope', { enum: ['read', 'upload', 'admin'] }).notNull(),
  expiresOn: text('expires_on'),
  createdOn: text('created_on').notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`),
  revokedOn: text('revoked_on'),
});

export type TokenRow = typeof tokens.$inferSelect;

/**
 * The ad-hoc derivatives (not presets) made of each file's current bytes, so that one file cannot
 * collect more than ASSETS_TRANSFORM_MAX_VARIANTS of them. Rows go with the file (cascade) and when
 * its bytes are replaced, as its `generated/` prefix does.
 */
export const derivatives = sqliteTable(
  'derivatives',
  {
    fileId: text('file_id')
      .notNull()
      .references(() => files.id, { onDelete: 'cascade' }),
    hash: text('hash').notNull(),
    createdOn: text('created_on').notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`),
  },
  (t) => [primaryKey({ columns: [t.fileId, t.hash] })],
);

/**
 * Directus's `directus_folders`: a tree of names that files point into (`files.folder`). Deleting a
 * folder moves its files and subfolders to the root, as Directus does (done by the repository in one
 * batch); `parent` is never a descendant of the folder itself.
 */
export const folders = sqliteTable(
  'folders',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    parent: text('parent'),
  },
  (t) => [index('folders_parent').on(t.parent)],
);

export type FolderRow = typeof folders.$inferSelect;

/**
 * The multipart uploads that are live: each TUS upload once it has one, and each POST/import that
 * writes more than one part, while it runs. The sweep never aborts an upload listed here, nor
 * deletes its key, until `live_until` has passed: an upload's age says nothing about whether it is
 * live (a 5 TiB upload may run for days). Rows go when the upload ends.
 */
export const liveUploads = sqliteTable(
  'live_uploads',
  {
    /** The TUS upload's id, or a random id for a streamed write. */
    id: text('id').primaryKey(),
    storage: text('storage').notNull(),
    key: text('key').notNull(),
    s3UploadId: text('s3_upload_id'),
    /** ms since the epoch; refreshed by activity well before it passes. */
    liveUntil: integer('live_until').notNull(),
    /** A direct-to-bucket upload's issue (src/direct/): who may go on with it and what the record will say, as JSON. */
    direct: text('direct'),
  },
  (t) => [index('live_uploads_storage_key').on(t.storage, t.key), index('live_uploads_upload_id').on(t.s3UploadId)],
);

export type LiveUploadRow = typeof liveUploads.$inferSelect;
export type NewLiveUploadRow = typeof liveUploads.$inferInsert;

/**
 * A checksum computed over several sweep runs (src/files/checksum-sweep.ts): the resumable SHA-256
 * state (ResumableSha256.save, which carries the bytes it covers) of the object at `key`.
 */
export const checksumProgress = sqliteTable('checksum_progress', {
  fileId: text('file_id')
    .primaryKey()
    .references(() => files.id, { onDelete: 'cascade' }),
  key: text('key').notNull(),
  state: text('state').notNull(),
});

/** Where the sweep of each storage location stopped, so a large bucket is swept over several runs. */
export const sweepState = sqliteTable('sweep_state', {
  storage: text('storage').primaryKey(),
  phase: text('phase', { enum: ['objects', 'generated', 'uploads', 'multipart'] }).notNull(),
  /** The last key (or key and upload id) handled in the phase, as JSON. */
  cursor: text('cursor'),
  modifiedOn: text('modified_on').notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`),
});

/**
 * Webhooks (`/webhooks`): where file events are delivered. `secret` is the Standard Webhooks signing
 * secret (`whsec_…`), kept to sign every delivery and shown only in the answer that created it.
 * `events` is a JSON list of event types; a paused webhook gets nothing.
 */
export const webhooks = sqliteTable('webhooks', {
  id: text('id').primaryKey(),
  url: text('url').notNull(),
  events: text('events', { mode: 'json' }).$type<string[]>().notNull(),
  secret: text('secret').notNull(),
  paused: integer('paused', { mode: 'boolean' }).notNull().default(false),
  createdOn: text('created_on').notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`),
  modifiedOn: text('modified_on').notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`),
});

export type WebhookRow = typeof webhooks.$inferSelect;

/**
 * The last delivery attempts of each webhook (the newest WEBHOOK_ATTEMPTS_KEPT), for admins to see
 * what failed and what was parked in the dead-letter queue. Rows go with their webhook.
 */
export const webhookAttempts = sqliteTable(
  'webhook_attempts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    webhookId: text('webhook_id')
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    /** The delivery's `webhook-id`: the same on every attempt of one event. */
    messageId: text('message_id').notNull(),
    event: text('event').notNull(),
    fileId: text('file_id'),
    attempt: integer('attempt').notNull(),
    /** The receiver's HTTP status; null when it gave none (timeout, refused URL, network error). */
    status: integer('status'),
    outcome: text('outcome', { enum: ['delivered', 'retrying', 'dead', 'dropped'] }).notNull(),
    error: text('error'),
    durationMs: integer('duration_ms').notNull(),
    attemptedOn: text('attempted_on').notNull(),
  },
  (t) => [index('webhook_attempts_webhook').on(t.webhookId, t.id)],
);

export type WebhookAttemptRow = typeof webhookAttempts.$inferSelect;
