import { getConfig } from './config';
import { FilesRepository } from './db/files-repository';
import { LiveUploadsRepository } from './db/live-uploads-repository';
import { SweepRepository } from './db/sweep-repository';
import type { Bindings } from './env';
import { sweepDirectUploads } from './direct/uploads';
import { backfillPlaceholders } from './files/placeholder';
import { type SweepReport, sweepLocation } from './files/sweep';
import { log } from './lib/log';
import { storageFor } from './storage';

/** Listing pages per location per run: 20,000 keys, well inside a Cron invocation's limits. */
const PAGES_PER_RUN = 20;

/**
 * One sweep run over every storage location: each reports what it removed in one structured log
 * line; a location that fails is logged and the others still run. Then a few images still without a
 * placeholder get one (placeholder.ts). What has expired is judged by this
 * server's clock, never by the time a trigger claims: under `wrangler dev` any web page can send
 * `GET /cdn-cgi/handler/scheduled?time=<years ahead>` to 127.0.0.1, and that time would make every
 * live upload look expired.
 */
export async function sweepStorage(env: Bindings): Promise<SweepReport[]> {
  const config = getConfig(env);
  const now = Date.now();
  const deps = { files: new FilesRepository(env.DB), live: new LiveUploadsRepository(env.DB), positions: new SweepRepository(env.DB) };
  const reports: SweepReport[] = [];
  for (const name of config.locations.keys()) {
    try {
      const client = storageFor(config, name);
      const report = await sweepLocation(deps, client, { now, graceMs: config.sweep.graceMs, maxPages: PAGES_PER_RUN });
      report.abortedUploads.push(...(await sweepDirectUploads(deps, client, now)));
      log('info', 'sweep', { ...report });
      reports.push(report);
    } catch (error) {
      log('error', 'sweep failed', { storage: name, error: (error as Error).message });
    }
  }
  try {
    log('info', 'placeholders', await backfillPlaceholders(config, deps.files));
  } catch (error) {
    log('error', 'placeholders failed', { error: (error as Error).message });
  }
  return reports;
}
