CREATE TABLE `files` (
	`id` text PRIMARY KEY NOT NULL,
	`storage` text NOT NULL,
	`filename_disk` text,
	`filename_download` text NOT NULL,
	`title` text,
	`type` text,
	`folder` text,
	`filesize` integer DEFAULT 0 NOT NULL,
	`width` integer,
	`height` integer,
	`duration` integer,
	`description` text,
	`location` text,
	`tags` text,
	`metadata` text,
	`focal_point_x` integer,
	`focal_point_y` integer,
	`checksum` text,
	`private_hash` text,
	`access` text DEFAULT 'public' NOT NULL,
	`uploaded_by` text,
	`created_on` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`uploaded_on` text,
	`modified_on` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `files_private_hash_unique` ON `files` (`private_hash`);--> statement-breakpoint
CREATE INDEX `files_created_on` ON `files` (`created_on`);--> statement-breakpoint
CREATE INDEX `files_checksum` ON `files` (`checksum`);--> statement-breakpoint
CREATE TABLE `settings` (
	`id` integer PRIMARY KEY NOT NULL,
	`storage_asset_transform` text DEFAULT 'all' NOT NULL,
	`storage_asset_presets` text DEFAULT '[]' NOT NULL,
	`modified_on` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
