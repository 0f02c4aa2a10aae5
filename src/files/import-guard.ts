import ipaddr from 'ipaddr.js';
import { AppError } from '../errors/app-error';

/** Host names that always mean "this machine" or a private network, whatever DNS says. */
const LOCAL_NAME = /(^|\.)(localhost|local|internal|home\.arpa|localdomain)\.?$/i;

const refuse = (message: string) => new AppError('INVALID_PAYLOAD', message);

/**
 * Checks a URL before `/files/import` fetches it (server-side request forgery guard). Only http and
 * https; no loopback, private, link-local, unique-local, unspecified, multicast, carrier-grade NAT or
 * other non-unicast address — the WHATWG URL parser has already turned decimal, hex, octal and short
 * IPv4 forms into dotted quads, and IPv4-mapped IPv6 is checked as the IPv4 it carries. Local host
 * names (`localhost`, `*.local`, `*.internal`, single labels) and everything in IMPORT_IP_DENY_LIST
 * (addresses, CIDR ranges, host names and their subdomains) are refused too. Names are not resolved:
 * on Cloudflare a Worker cannot reach private networks, so a public name cannot lead there.
 */
export function checkImportUrl(raw: string, denyList: string[]): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse(`"${raw}" is not a valid URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refuse('Only http:// and https:// URLs can be imported.');
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();

  if (ipaddr.isValid(host)) {
    let address = ipaddr.parse(host);
    if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) address = (address as ipaddr.IPv6).toIPv4Address();
    const range = address.range();
    if (range !== 'unicast') throw refuse(`Importing from ${address.toString()} is not allowed: it is a ${range} address.`);
    for (const entry of denyList) {
      if (matchesAddress(address, entry)) throw refuse(`Importing from ${address.toString()} is not allowed (IMPORT_IP_DENY_LIST).`);
    }
    return url;
  }

  if (LOCAL_NAME.test(host) || !host.includes('.')) throw refuse(`Importing from "${host}" is not allowed: it names a local host.`);
  for (const entry of denyList) {
    const name = entry.toLowerCase();
    if (!ipaddr.isValid(name) && !name.includes('/') && (host === name || host.endsWith(`.${name}`))) {
      throw refuse(`Importing from "${host}" is not allowed (IMPORT_IP_DENY_LIST).`);
    }
  }
  return url;
}

function matchesAddress(address: ipaddr.IPv4 | ipaddr.IPv6, entry: string): boolean {
  try {
    if (entry.includes('/')) {
      const [network, bits] = ipaddr.parseCIDR(entry);
      return network.kind() === address.kind() && address.match(network, bits);
    }
    if (!ipaddr.isValid(entry)) return false;
    const denied = ipaddr.parse(entry);
    return denied.kind() === address.kind() && denied.toNormalizedString() === address.toNormalizedString();
  } catch {
    return false;
  }
}
