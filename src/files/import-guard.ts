import ipaddr from 'ipaddr.js';
import { AppError } from '../errors/app-error';

/** Host names that always mean "this machine" or a private network, whatever DNS says. */
const LOCAL_NAME = /(^|\.)(localhost|local|internal|home\.arpa|localdomain)\.?$/i;

const refuse = (message: string) => new AppError('INVALID_PAYLOAD', message);

/**
 * Checks a URL before `/files/import` fetches it (server-side request forgery guard). Only http and
 * https; no loopback, private, link-local, unique-local, unspecified, multicast, carrier-grade NAT or
 * other non-unicast address — the WHATWG URL parser has already turned decimal, hex, octal and short
 * IPv4 forms into dotted quads. An IPv6 address that carries an IPv4 address (see `carriedIPv4`) is
 * refused outright, whatever that IPv4 is: where such an address leads depends on translators and
 * relays this Worker cannot see, and the IPv4 address itself can always be imported from instead.
 * Local host names (`localhost`, `*.local`, `*.internal`, single labels, each with or without the
 * final dot) and everything in IMPORT_IP_DENY_LIST (addresses, CIDR ranges, host names and their
 * subdomains) are refused too. Names are not resolved: on Cloudflare a Worker cannot reach private
 * networks, so a public name cannot lead there.
 *
 * An address in IMPORT_IP_ALLOW_LIST (addresses and CIDR ranges, never names: they are not resolved)
 * is let through whatever its range, unless the deny list names it too; an IPv4-mapped IPv6 address
 * counts as its IPv4 address on both lists. The same guard checks webhook URLs.
 */
export function checkImportUrl(raw: string, denyList: string[], allowList: readonly string[] = []): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse(`"${raw}" is not a valid URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refuse('Only http:// and https:// URLs can be imported.');
  // `localhost.` and `files.example.com.` are the same hosts as without the final dot.
  const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.+$/, '').toLowerCase();

  if (ipaddr.isValid(host)) {
    const address = ipaddr.parse(host);
    const listed = (list: readonly string[]) => forms(address).some((form) => list.some((entry) => matchesAddress(form, entry)));
    if (listed(allowList)) {
      if (listed(denyList)) throw refuse(`Importing from ${address.toString()} is not allowed (IMPORT_IP_DENY_LIST, which wins over IMPORT_IP_ALLOW_LIST).`);
      return url;
    }
    const carried = address.kind() === 'ipv6' ? carriedIPv4(address as ipaddr.IPv6) : undefined;
    if (carried) {
      throw refuse(`Importing from [${address.toString()}] is not allowed: it is an IPv6 address of the ${carried.form} form, which carries ${carried.ipv4 ? `the IPv4 address ${carried.ipv4.toString()}` : 'an IPv4 address'}. Import from the IPv4 address or a host name instead.`);
    }
    const range = address.range();
    if (range !== 'unicast') throw refuse(`Importing from ${address.toString()} is not allowed: it is a ${range} address.`);
    for (const entry of denyList) {
      if (matchesAddress(address, entry)) throw refuse(`Importing from ${address.toString()} is not allowed (IMPORT_IP_DENY_LIST).`);
    }
    return url;
  }

  if (LOCAL_NAME.test(host) || !host.includes('.')) throw refuse(`Importing from "${host}" is not allowed: it names a local host.`);
  for (const entry of denyList) {
    const name = entry.toLowerCase().replace(/\.+$/, '');
    if (!ipaddr.isValid(name) && !name.includes('/') && (host === name || host.endsWith(`.${name}`))) {
      throw refuse(`Importing from "${host}" is not allowed (IMPORT_IP_DENY_LIST).`);
    }
  }
  return url;
}

/**
 * The IPv4 address an IPv6 address embeds, by the prefix that says so: IPv4-mapped (::ffff:0:0/96)
 * and IPv4-compatible (::/96, RFC 4291 §2.5.5), IPv4-translated (::ffff:0:0:0/96, RFC 6145), NAT64
 * (64:ff9b::/96 and 64:ff9b:1::/48, RFC 6052 and 8215), 6to4 (2002::/16, RFC 3056), Teredo
 * (2001::/32, the client's address inverted, RFC 4380) and ISATAP interface identifiers
 * (…:0:5efe:a.b.c.d and …:200:5efe:a.b.c.d under any prefix, RFC 5214). `::` and `::1` are not
 * IPv4-compatible: they are judged as the unspecified and loopback addresses they are.
 */
export function carriedIPv4(address: ipaddr.IPv6): { form: string; ipv4?: ipaddr.IPv4 } | undefined {
  const w = address.parts;
  const v4 = (high: number, low: number, mask = 0) => {
    const hi = high ^ (mask >>> 16);
    const lo = low ^ (mask & 0xffff);
    return new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  };
  const [w0 = 0, w1 = 0, w2 = 0, , w4 = 0, w5 = 0, w6 = 0, w7 = 0] = w;
  const zeros = (from: number, to: number) => w.slice(from, to).every((word) => word === 0);
  if (zeros(0, 5) && w5 === 0xffff) return { form: 'IPv4-mapped', ipv4: v4(w6, w7) };
  if (zeros(0, 6) && (w6 !== 0 || w7 > 1)) return { form: 'IPv4-compatible', ipv4: v4(w6, w7) };
  if (zeros(0, 4) && w4 === 0xffff && w5 === 0) return { form: 'IPv4-translated', ipv4: v4(w6, w7) };
  if (w0 === 0x64 && w1 === 0xff9b && zeros(2, 6)) return { form: 'NAT64', ipv4: v4(w6, w7) };
  // The local-use prefix: where the IPv4 sits depends on the prefix length the network chose.
  if (w0 === 0x64 && w1 === 0xff9b && w2 === 1) return { form: 'NAT64 (local-use)' };
  if (w0 === 0x2002) return { form: '6to4', ipv4: v4(w1, w2) };
  if (w0 === 0x2001 && w1 === 0) return { form: 'Teredo', ipv4: v4(w6, w7, 0xffffffff) };
  if ((w4 & 0xfcff) === 0 && w5 === 0x5efe) return { form: 'ISATAP', ipv4: v4(w6, w7) };
  return undefined;
}

/** The forms an address is listed under: itself, and the IPv4 address an IPv4-mapped one stands for. */
function forms(address: ipaddr.IPv4 | ipaddr.IPv6): (ipaddr.IPv4 | ipaddr.IPv6)[] {
  const v6 = address.kind() === 'ipv6' ? (address as ipaddr.IPv6) : undefined;
  return v6?.isIPv4MappedAddress() ? [address, v6.toIPv4Address()] : [address];
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
