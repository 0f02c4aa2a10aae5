-- Checksums computed over several sweep runs (src/files/checksum-sweep.ts): the resumable SHA-256
-- state of a file's object, kept between runs; a deleted file takes its row with it.
CREATE TABLE `checksum_progress` (
	`file_id` text PRIMARY KEY NOT NULL,
	`key` text NOT NULL,
	`state` text NOT NULL,
	FOREIGN KEY (`file_id`) REFERENCES `files`(`id`) ON UPDATE no action ON DELETE cascade
);
