import { createDirectus, rest, staticToken } from '@directus/sdk';
import { exports } from 'cloudflare:workers';
import { ADMIN_TOKEN } from '../helpers';

/** The official Directus SDK, its requests routed into the Worker under test. */
export function sdk(token = ADMIN_TOKEN) {
  const fetchWorker = (input: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(new Request(input, init));
  return createDirectus('http://assets.test', { globals: { fetch: fetchWorker as typeof fetch } })
    .with(staticToken(token))
    .with(rest());
}
