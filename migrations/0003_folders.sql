CREATE TABLE `folders` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`parent` text
);
--> statement-breakpoint
CREATE INDEX `folders_parent` ON `folders` (`parent`);--> statement-breakpoint
CREATE INDEX `files_folder` ON `files` (`folder`);--> statement-breakpoint
-- Before this migration `folder` was free text that named no folder (there were none): every such
-- value is cleared, since a file's folder must now be an existing folder's id.
UPDATE `files` SET `folder` = NULL WHERE `folder` IS NOT NULL AND `folder` NOT IN (SELECT `id` FROM `folders`);
