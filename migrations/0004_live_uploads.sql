CREATE TABLE `live_uploads` (
	`id` text PRIMARY KEY NOT NULL,
	`storage` text NOT NULL,
	`key` text NOT NULL,
	`s3_upload_id` text,
	`live_until` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `live_uploads_storage_key` ON `live_uploads` (`storage`,`key`);--> statement-breakpoint
CREATE INDEX `live_uploads_upload_id` ON `live_uploads` (`s3_upload_id`);--> statement-breakpoint
CREATE TABLE `sweep_state` (
	`storage` text PRIMARY KEY NOT NULL,
	`phase` text NOT NULL,
	`cursor` text,
	`modified_on` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `files_storage_disk` ON `files` (`storage`,`filename_disk`);