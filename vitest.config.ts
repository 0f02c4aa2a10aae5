import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { readFileSync } from 'node:fs';
import { defineConfig, type Plugin } from 'vitest/config';

/** As wrangler does: a `.wasm` import is a compiled WebAssembly.Module (for decoders tested in Node). */
function compiledWasm(): Plugin {
  return {
    name: 'compiled-wasm',
    enforce: 'pre',
    load(id) {
      if (!id.endsWith('.wasm')) return undefined;
      return `export default new WebAssembly.Module(Buffer.from(${JSON.stringify(readFileSync(id).toString('base64'))}, 'base64'));`;
    },
  };
}

export default defineConfig({
  test: {
    // One structured line per request (src/middleware/request-log.ts) would bury the report.
    onConsoleLog: (line) => !line.includes('"msg":"request"'),
    projects: [
      {
        // Unit, integration and protocol tests, inside workerd.
        plugins: [
          cloudflareTest(async ({ inject }) => {
            // Provided by test/global-setup.ts: the S3 server these tests run against.
            const s3 = inject('s3');
            return {
              // Environment "test" makes wrangler read .dev.vars.test (empty), never a developer's .dev.vars.
              wrangler: { configPath: './wrangler.toml', environment: 'test' },
              miniflare: {
                bindings: {
                  TEST_MIGRATIONS: await readD1Migrations('./migrations'),
                  TEST_S3: JSON.stringify(s3),
                  TEST_SILENT_PORT: String(inject('silentPort')),
                  TEST_FAULT_PROXY: inject('faultProxy'),
                  // The fault suite's seeded run: FAULT_SEED=n npm test replays run n.
                  FAULT_SEED: process.env.FAULT_SEED ?? '1',
                  ADMIN_TOKEN: 'test-admin-token-0123456789',
                  FILES_MAX_UPLOAD_SIZE: String(20 * 1024 * 1024),
                  ASSETS_SIGNING_KEY: 'test-signing-key-one-0123456789abcdef,test-signing-key-two-0123456789abcdef',
                  // `faulty` is the same bucket behind the fault proxy, under its own ROOT: only the
                  // fault suite writes there, so its sweeps see only its own objects.
                  STORAGE_LOCATIONS: 'local,faulty',
                  STORAGE_LOCAL_DRIVER: 's3',
                  STORAGE_LOCAL_ENDPOINT: s3.endpoint,
                  STORAGE_LOCAL_BUCKET: s3.bucket,
                  STORAGE_LOCAL_KEY: s3.accessKeyId,
                  STORAGE_LOCAL_SECRET: s3.secretAccessKey,
                  STORAGE_LOCAL_REGION: s3.region,
                  STORAGE_LOCAL_FORCE_PATH_STYLE: 'true',
                  STORAGE_FAULTY_DRIVER: 's3',
                  STORAGE_FAULTY_ENDPOINT: inject('faultProxy'),
                  STORAGE_FAULTY_BUCKET: s3.bucket,
                  STORAGE_FAULTY_KEY: s3.accessKeyId,
                  STORAGE_FAULTY_SECRET: s3.secretAccessKey,
                  STORAGE_FAULTY_REGION: s3.region,
                  STORAGE_FAULTY_FORCE_PATH_STYLE: 'true',
                  STORAGE_FAULTY_ROOT: 'faulty',
                },
              },
            };
          }),
        ],
        test: {
          name: 'workers',
          // The webhook receiver (127.0.0.1:7670) that test/webhooks deliver to.
          globalSetup: ['./test/global-setup.ts', './test/webhooks/receiver.ts'],
          setupFiles: ['./test/apply-migrations.ts'],
          include: ['test/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        // The image decoders in Node: against libvips (sharp) on the same files, and under seeded
        // mutations in worker threads that can be stopped (test-node/).
        plugins: [compiledWasm()],
        test: {
          name: 'node',
          environment: 'node',
          // Through Vite, so the plugin above sees their .wasm imports.
          server: { deps: { inline: [/@cwasm\//, /@jsquash\//, /@cf-wasm\//, /@resvg\//] } },
          include: ['test-node/**/*.test.ts'],
          testTimeout: 600_000,
        },
      },
      {
        // End to end: real clients in Node against `wrangler dev`.
        test: {
          name: 'e2e',
          environment: 'node',
          include: ['e2e/**/*.e2e.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // A browser waits on a server that shares two cores with it: polls get 10 s, not 1.
          expect: { poll: { timeout: 10_000 } },
        },
      },
    ],
  },
});
