import { AppError } from '../errors/app-error';
import { type GlobalSettings, parseGlobals } from './globals';
import { type ConfigIssue, LOCATION_OPTIONS, parseStorageLocation, type StorageLocation } from './storage-location';
import { log } from '../lib/log';

export type { StorageLocation } from './storage-location';

/** The environment parsed once per isolate. Everything past the routing layer receives this. */
export interface Config extends GlobalSettings {
  /** Locations in the order of STORAGE_LOCATIONS; the first is where new files go. */
  locations: Map<string, StorageLocation>;
  defaultLocation: StorageLocation;
}

/**
 * Parses the Worker's environment. Throws an AppError `INVALID_CONFIG` listing every problem, each
 * naming its variable and what is expected (never a value, since it could be a secret).
 */
export function parseConfig(env: Record<string, unknown>): Config {
  const vars = stringVars(env);
  const issues: ConfigIssue[] = [];

  const names = (vars.STORAGE_LOCATIONS ?? '')
    .split(',')
    .map((n) => n.trim().toLowerCase())
    .filter((n) => n !== '');
  if (names.length === 0) {
    issues.push({ variable: 'STORAGE_LOCATIONS', message: 'is required: a comma-separated list of location names, e.g. s3 or s3,r2' });
  }
  for (const n of names) {
    if (!/^[a-z0-9_]+$/.test(n)) issues.push({ variable: 'STORAGE_LOCATIONS', message: `location "${n}" may use only letters, digits and _` });
  }
  if (new Set(names).size !== names.length) issues.push({ variable: 'STORAGE_LOCATIONS', message: 'lists a location twice' });

  const locations = new Map<string, StorageLocation>();
  for (const name of names) {
    const prefix = `STORAGE_${name.toUpperCase()}_`;
    // A longer location name can share this prefix (s3 and s3_eu): its variables are not ours.
    const others = names.filter((o) => o !== name && o.toUpperCase().startsWith(`${name.toUpperCase()}_`));
    const raw: Record<string, string> = {};
    for (const [variable, value] of Object.entries(vars)) {
      if (!variable.startsWith(prefix) || others.some((o) => variable.startsWith(`STORAGE_${o.toUpperCase()}_`))) continue;
      const option = variable.slice(prefix.length);
      if (LOCATION_OPTIONS.includes(option)) raw[option] = value;
      else issues.push({ variable, message: `is not a storage option; the options are ${LOCATION_OPTIONS.join(', ')}` });
    }
    const result = parseStorageLocation(name, raw);
    if ('issues' in result) issues.push(...result.issues);
    else locations.set(name, result.location);
  }

  const globals = parseGlobals(vars);
  if ('issues' in globals) issues.push(...globals.issues);

  const defaultLocation = names[0] === undefined ? undefined : locations.get(names[0]);
  if (issues.length > 0 || !defaultLocation || !('settings' in globals)) throw configError(issues);
  return { ...globals.settings, locations, defaultLocation };
}

function configError(issues: ConfigIssue[]): AppError {
  const lines = issues.map((i) => `${i.variable} ${i.message}`);
  return new AppError('INVALID_CONFIG', `Invalid configuration: ${lines.join('; ')}.`, {
    extensions: { issues: issues.map((i) => ({ variable: i.variable, message: i.message })) },
  });
}

/** Worker vars may be numbers or booleans (TOML); bindings (D1, Durable Objects) are skipped. */
function stringVars(env: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
  }
  return out;
}

const cache = new WeakMap<object, Config | AppError>();

/**
 * The parsed config for this env object, computed once per isolate. A bad config is remembered too
 * and logged once, so `wrangler dev` shows it without flooding the log on every request.
 */
export function getConfig(env: Record<string, unknown>): Config {
  let entry = cache.get(env);
  if (!entry) {
    try {
      entry = parseConfig(env);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      log('error', error.message, { code: error.code });
      entry = error;
    }
    cache.set(env, entry);
  }
  if (entry instanceof AppError) throw entry;
  return entry;
}
