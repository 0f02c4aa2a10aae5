import type { Config } from '../config';
import { AppError } from '../errors/app-error';
import { S3Client } from './s3-client';

const clients = new WeakMap<Config, Map<string, S3Client>>();

/**
 * The S3 client of a storage location (the default one when `name` is omitted), made once per
 * parsed config so signing keys stay cached across requests in the isolate.
 */
export function storageFor(config: Config, name?: string): S3Client {
  const location = name === undefined ? config.defaultLocation : config.locations.get(name);
  if (!location) {
    throw new AppError('INVALID_PAYLOAD', `Unknown storage location "${name}"; configured: ${[...config.locations.keys()].join(', ')}.`);
  }
  let byName = clients.get(config);
  if (!byName) clients.set(config, (byName = new Map()));
  let client = byName.get(location.name);
  if (!client) byName.set(location.name, (client = new S3Client(location)));
  return client;
}
