ALTER TABLE `files` ADD `embed` text;
