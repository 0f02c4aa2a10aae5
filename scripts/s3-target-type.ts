/** The S3 server tests run against (shared by the Node-side setup and the tests in workerd). */
export interface S3Target {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** s3rver: no ListParts, AbortMultipartUpload or part-size rules, so tests of those are skipped. */
  lenient: boolean;
  /** `r2`: the target enforces R2's rules (equal parts, no ACL headers). */
  profile: 's3' | 'r2';
}
