import type { D1Migration } from 'cloudflare:test';

declare global {
  namespace Cloudflare {
    interface Env {
      DB: D1Database;
      UPLOADS: DurableObjectNamespace<import('../src/uploads/upload-session').UploadSession>;
      TEST_MIGRATIONS: D1Migration[];
      /** JSON of scripts/s3-target.ts's S3Target. */
      TEST_S3: string;
      TEST_SILENT_PORT: string;
      /** The fault proxy's control and S3 endpoint (scripts/fault-proxy.ts). */
      TEST_FAULT_PROXY: string;
      [variable: string]: unknown;
    }
    interface GlobalProps {
      mainModule: typeof import('../src/index');
    }
  }
}
