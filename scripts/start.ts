/**
 * `npm start`: the whole service on this machine. Starts s3rver on 127.0.0.1 (data under .data/s3),
 * creates the bucket, applies the D1 migrations locally, writes .dev.vars with a random ADMIN_TOKEN,
 * ASSETS_SIGNING_KEY and the local storage location when it does not exist (or, in an existing one,
 * adds a missing local secret and moves the local endpoint to S3_PORT), then runs `wrangler dev`.
 * Ctrl-C stops all of it; the next start reuses the stored data.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startS3rver } from './s3-target.ts';
import { addS3rverMultipartOperations, allowBrowserUploads, browserOrigins } from './s3rver-multipart.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const port = Number(process.env.PORT ?? 8787);
const s3Port = Number(process.env.S3_PORT ?? 4569);
const bucket = 'edge-assets';
const wrangler = join(dirname(createRequire(import.meta.url).resolve('wrangler/package.json')), 'bin', 'wrangler.js');
const childEnv = { ...process.env, WRANGLER_SEND_METRICS: 'false' };

// Where .dev.vars, the S3 data and the D1 state live: the project folder, unless START_STATE_DIR
// names another (the README examples test runs a whole `npm start` there, apart from a developer's).
const stateDir = process.env.START_STATE_DIR ? resolve(process.env.START_STATE_DIR) : root;
const persist = join(stateDir, '.wrangler', 'state');
const dataDir = join(stateDir, '.data', 's3');
mkdirSync(dataDir, { recursive: true });
let s3: Awaited<ReturnType<typeof startS3rver>>;
// Direct-to-bucket uploads resume (ListParts) and abort here as on any S3 store.
addS3rverMultipartOperations();
try {
  s3 = await startS3rver({ port: s3Port, directory: dataDir, bucket });
} catch (error) {
  console.error(`Could not start the local S3 server on 127.0.0.1:${s3Port} (${(error as Error).message}). Set S3_PORT to a free port.`);
  process.exit(1);
}

const devVars = join(stateDir, '.dev.vars');
/** Local secrets that a documented feature needs: the admin token, and the key signed URLs use. */
const localSecrets: Record<string, () => string> = {
  ADMIN_TOKEN: () => randomBytes(24).toString('base64url'),
  ASSETS_SIGNING_KEY: () => randomBytes(32).toString('base64url'),
};
if (!existsSync(devVars)) {
  const lines = [
    '# Written by `npm start` for local development. Never commit this file.',
    ...Object.entries(localSecrets).map(([name, make]) => `${name}=${make()}`),
    'STORAGE_LOCATIONS=local',
    'STORAGE_LOCAL_DRIVER=s3',
    `STORAGE_LOCAL_ENDPOINT=${s3.target.endpoint}`,
    `STORAGE_LOCAL_BUCKET=${bucket}`,
    `STORAGE_LOCAL_KEY=${s3.target.accessKeyId}`,
    `STORAGE_LOCAL_SECRET=${s3.target.secretAccessKey}`,
    `STORAGE_LOCAL_REGION=${s3.target.region}`,
    'STORAGE_LOCAL_FORCE_PATH_STYLE=true',
    // The embedded server has the CORS rule below, so the file library sends large files straight to it.
    'ADMIN_DIRECT_UPLOAD_MIN_SIZE=100mb',
  ];
  writeFileSync(devVars, `${lines.join('\n')}\n`, { mode: 0o600 });
  console.log('Wrote .dev.vars (local storage location, a new ADMIN_TOKEN and ASSETS_SIGNING_KEY).');
} else {
  // An existing file is the developer's: a missing local secret is appended, and a local endpoint
  // that still names the embedded server's previous port follows S3_PORT; nothing else changes.
  let text = readFileSync(devVars, 'utf8');
  const changes: string[] = [];
  const localEndpoint = /^STORAGE_LOCAL_ENDPOINT=http:\/\/127\.0\.0\.1:(\d+)\s*$/m;
  const stale = localEndpoint.exec(text);
  if (stale && stale[1] !== String(s3Port)) {
    text = text.replace(localEndpoint, `STORAGE_LOCAL_ENDPOINT=${s3.target.endpoint}`);
    changes.push(`STORAGE_LOCAL_ENDPOINT now names port ${s3Port} (S3_PORT), not ${stale[1]}`);
  }
  const missing = Object.entries(localSecrets).filter(([name]) => !new RegExp(`^${name}=`, 'm').test(text));
  if (missing.length > 0) {
    text = `${text}${text.endsWith('\n') || text === '' ? '' : '\n'}${missing.map(([name, make]) => `${name}=${make()}`).join('\n')}\n`;
    changes.push(`added ${missing.map(([name]) => name).join(', ')}`);
  }
  if (changes.length > 0) {
    writeFileSync(devVars, text, { mode: 0o600 });
    console.log(`Updated .dev.vars: ${changes.join('; ')}.`);
  }
}
const token = /^ADMIN_TOKEN=(.*)$/m.exec(readFileSync(devVars, 'utf8'))?.[1]?.trim();
const base = `http://127.0.0.1:${port}`;
// Pages that upload straight to the bucket (the file library, an app CORS_ORIGIN allows) PUT parts
// here and read their ETag: the bucket's CORS rule follows CORS_ORIGIN, as the API's does.
const corsOrigin = process.env.CORS_ORIGIN ?? /^CORS_ORIGIN=(.*)$/m.exec(readFileSync(devVars, 'utf8'))?.[1];
await allowBrowserUploads(s3.target, browserOrigins(corsOrigin, base));

const migrate = spawnSync(process.execPath, [wrangler, 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persist], {
  cwd: root,
  env: { ...childEnv, CI: 'true' },
  stdio: ['ignore', 'pipe', 'pipe'],
  encoding: 'utf8',
});
if (migrate.status !== 0) {
  console.error(`Applying the D1 migrations failed:\n${migrate.stdout}\n${migrate.stderr}`);
  await s3.close();
  process.exit(1);
}

console.log(`
edge-assets is starting on ${base}
  S3 (s3rver):  ${s3.target.endpoint}/${bucket}   data in ${dataDir}, CORS for ${browserOrigins(corsOrigin, base).join(', ')}
  D1:           local, in ${persist}
  ADMIN_TOKEN:  ${token ?? '(not set in .dev.vars)'}
Try:
  curl ${base}/server/health
Sweep storage now (the Cron Trigger's job):
  curl "${base}/cdn-cgi/handler/scheduled"
`);

const dev = spawn(process.execPath, [wrangler, 'dev', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', persist, '--env-file', devVars, '--test-scheduled'], {
  cwd: root,
  env: childEnv,
  stdio: 'inherit',
});

let stopping = false;
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    if (dev.exitCode === null) dev.kill('SIGTERM');
    await s3.close().catch(() => {});
  }
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
dev.on('exit', (code) => void stop(code ?? 0));
