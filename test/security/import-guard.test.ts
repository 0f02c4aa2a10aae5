import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors/app-error';
import { checkImportUrl } from '../../src/files/import-guard';

/**
 * The import guard, called directly: no request is ever sent to these addresses. Every IPv6 form that
 * carries an IPv4 address is refused whatever the IPv4 is, every spelling of a refused IPv4 address
 * is refused as that address, and a final dot changes nothing about a name.
 */
const DENY = ['0.0.0.0', '169.254.169.254', 'files.blocked.example'];

function verdict(url: string): string {
  try {
    checkImportUrl(url, DENY);
    return 'allowed';
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    expect(error.code).toBe('INVALID_PAYLOAD');
    expect(error.status).toBe(400);
    return error.message;
  }
}

describe('IPv6 that carries IPv4 is refused, whatever the IPv4', () => {
  const carriers: [string, RegExp][] = [
    ['http://[::127.0.0.1]/x', /IPv4-compatible.*127\.0\.0\.1/],
    ['http://[::7f00:1]/x', /IPv4-compatible.*127\.0\.0\.1/],
    ['http://[::169.254.169.254]/latest/meta-data/', /IPv4-compatible.*169\.254\.169\.254/],
    ['http://[::8.8.8.8]/x', /IPv4-compatible.*8\.8\.8\.8/],
    ['http://[::ffff:127.0.0.1]/x', /IPv4-mapped.*127\.0\.0\.1/],
    ['http://[::ffff:7f00:1]/x', /IPv4-mapped.*127\.0\.0\.1/],
    ['http://[0:0:0:0:0:FFFF:7F00:0001]/x', /IPv4-mapped.*127\.0\.0\.1/],
    ['http://[::ffff:8.8.8.8]/x', /IPv4-mapped.*8\.8\.8\.8/],
    ['http://[::ffff:0:127.0.0.1]/x', /IPv4-translated.*127\.0\.0\.1/],
    ['http://[64:ff9b::127.0.0.1]/x', /NAT64.*127\.0\.0\.1/],
    ['http://[64:ff9b::a9fe:a9fe]/x', /NAT64.*169\.254\.169\.254/],
    ['http://[64:ff9b:1::7f00:1]/x', /NAT64 \(local-use\)/],
    ['http://[64:ff9b:1:7f00:1::]/x', /NAT64 \(local-use\)/],
    ['http://[2002:7f00:1::]/x', /6to4.*127\.0\.0\.1/],
    ['http://[2002:a9fe:a9fe::1]/x', /6to4.*169\.254\.169\.254/],
    // Teredo: the client's address is stored inverted (ffff ^ 7f00 = 80ff, ffff ^ 0001 = fffe).
    ['http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/x', /Teredo.*127\.0\.0\.1/],
    ['http://[2606:4700::5efe:127.0.0.1]/x', /ISATAP.*127\.0\.0\.1/],
    ['http://[2606:4700::200:5efe:a9fe:a9fe]/x', /ISATAP.*169\.254\.169\.254/],
    ['http://[fe80::5efe:10.0.0.1]/x', /ISATAP.*10\.0\.0\.1/],
  ];
  for (const [url, message] of carriers) {
    it(`refuses ${url}`, () => {
      expect(verdict(url)).toMatch(message);
    });
  }
});

describe('every spelling of a refused IPv4 address is refused', () => {
  const spellings = [
    'http://127.0.0.1/x',
    'http://127.1/x',
    'http://2130706433/x',
    'http://0x7f000001/x',
    'http://0x7f.1/x',
    'http://0177.0.0.1/x',
    'http://0177.1/x',
    'http://0x7F.0.0.1/x',
    'http://127.0.0.1./x',
    'http://127.1./x',
    'http://0/x',
    'http://0.0.0.0./x',
    'http://169.254.169.254./latest/meta-data/',
    'http://2852039166/latest/meta-data/',
    'http://0xa9.0376.43518/latest/meta-data/',
    'http://10.1/x',
    'http://192.168.0x1.1/x',
    'http://100.64.0.1/x',
    'HTTP://127.0.0.1:8080/x',
  ];
  for (const url of spellings) {
    it(`refuses ${url}`, () => {
      expect(verdict(url)).toMatch(/is not allowed/);
    });
  }
});

describe('names: the final dot and case change nothing', () => {
  const names = [
    'http://localhost/x',
    'http://localhost./x',
    'http://LocalHost../x',
    'http://api.LOCALHOST./x',
    'http://printer.local./x',
    'http://metadata.google.internal./computeMetadata/v1/',
    'http://intranet/x',
    'http://intranet./x',
    'http://INTRANET../x',
    'http://router.home.arpa./x',
  ];
  for (const url of names) {
    it(`refuses ${url} as a local host`, () => {
      expect(verdict(url)).toMatch(/names a local host/);
    });
  }

  for (const url of ['https://files.blocked.example./x', 'https://CDN.Files.Blocked.Example./x', 'https://files.blocked.example../x']) {
    it(`refuses ${url} by IMPORT_IP_DENY_LIST`, () => {
      expect(verdict(url)).toMatch(/IMPORT_IP_DENY_LIST/);
    });
  }

  it('a deny-list entry written with a final dot matches the name without it', () => {
    expect(() => checkImportUrl('https://files.example.com/x', ['files.example.com.'])).toThrow(/IMPORT_IP_DENY_LIST/);
  });
});

describe('what stays allowed', () => {
  for (const url of ['https://files.example.com/photo.jpg', 'https://files.example.com./photo.jpg', 'http://8.8.8.8/x', 'http://[2606:4700:4700::1111]/x', 'http://[2001:4860:4860::8888]/x']) {
    it(`allows ${url}`, () => {
      expect(verdict(url)).toBe('allowed');
    });
  }
});
