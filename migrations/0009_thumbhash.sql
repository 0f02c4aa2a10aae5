-- ThumbHash placeholders (src/files/placeholder.ts). Files that are not images the engine decodes
-- get '' (none) at once; images keep null until the upload's background job or the sweep makes one.
ALTER TABLE `files` ADD `thumbhash` text;--> statement-breakpoint
UPDATE `files` SET `thumbhash` = '' WHERE `type` IS NULL OR `type` NOT IN ('image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif');--> statement-breakpoint
CREATE INDEX `files_placeholder_pending` ON `files` (`created_on`) WHERE "files"."thumbhash" is null;
