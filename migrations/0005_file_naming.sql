ALTER TABLE `settings` ADD `file_naming` text DEFAULT 'uuid' NOT NULL;
