import type { StorageLocation } from '../config';
import { AppError } from '../errors/app-error';
import type { S3Client } from '../storage/s3-client';

export interface HealthCheck {
  status: 'ok' | 'error';
  componentType: 'datastore' | 'objectstore';
  output?: string;
  code?: string;
}

export interface HealthReport {
  status: 'ok' | 'error';
  checks: Record<string, HealthCheck>;
}

/**
 * Checks D1 (a trivial query) and the default storage location (HeadBucket), concurrently. The
 * report names each check, Directus style (`database`, `storage:<location>`); error outputs are the
 * typed storage messages, which name variables and never their values.
 */
export async function checkHealth(db: D1Database, storage: S3Client, location: StorageLocation): Promise<HealthReport> {
  const [database, store] = await Promise.all([
    probe('datastore', () => db.prepare('SELECT 1').first()),
    probe('objectstore', () => storage.headBucket()),
  ]);
  const checks = { database, [`storage:${location.name}`]: store };
  const ok = Object.values(checks).every((c) => c.status === 'ok');
  return { status: ok ? 'ok' : 'error', checks };
}

async function probe(componentType: HealthCheck['componentType'], run: () => Promise<unknown>): Promise<HealthCheck> {
  try {
    await run();
    return { status: 'ok', componentType };
  } catch (error) {
    if (error instanceof AppError) return { status: 'error', componentType, output: error.message, code: error.code };
    return { status: 'error', componentType, output: error instanceof Error ? error.message : String(error) };
  }
}
