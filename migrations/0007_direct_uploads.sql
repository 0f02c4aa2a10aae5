-- A direct-to-bucket upload (Uppy's AwsS3 protocol under /files/s3/) is a live upload whose bytes go
-- straight to the bucket: its issue (owner token, file id, fields) is kept with it until it is completed or
-- expires.
ALTER TABLE `live_uploads` ADD `direct` text;
