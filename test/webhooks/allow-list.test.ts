import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config';
import { AppError } from '../../src/errors/app-error';
import { checkImportUrl } from '../../src/files/import-guard';

/**
 * IMPORT_IP_ALLOW_LIST at the guard's function (no request is sent to any of these addresses): what
 * it opens, in every form an address takes, and that IMPORT_IP_DENY_LIST and the refusals it does not
 * name still win.
 */
function verdict(url: string, allow: string[], deny: string[] = ['0.0.0.0', '169.254.169.254']): string {
  try {
    checkImportUrl(url, deny, allow);
    return 'allowed';
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    expect(error.code).toBe('INVALID_PAYLOAD');
    return error.message;
  }
}

describe('IMPORT_IP_ALLOW_LIST opens what it names', () => {
  const opened: [string, string[]][] = [
    ['http://127.0.0.1:7670/hook', ['127.0.0.1/32']],
    ['http://127.0.0.1/x', ['127.0.0.1']],
    // Other spellings of the same IPv4 address are the same address.
    ['http://2130706433/x', ['127.0.0.1/32']],
    ['http://0x7f.1/x', ['127.0.0.1/32']],
    ['http://10.1.2.3/x', ['10.0.0.0/8']],
    ['http://192.168.1.20/x', ['192.168.1.0/24']],
    ['http://[::1]:8080/x', ['::1/128']],
    ['http://[fd12:3456::7]/x', ['fd00::/8']],
    ['http://[FD12:3456:0:0:0:0:0:7]/x', ['fd12:3456::7']],
    // An IPv4-mapped IPv6 address is its IPv4 address.
    ['http://[::ffff:127.0.0.1]/x', ['127.0.0.1/32']],
    ['http://[::ffff:a01:203]/x', ['10.0.0.0/8']],
  ];
  for (const [url, allow] of opened) {
    it(`${url} with ${allow.join(',')}`, () => {
      expect(verdict(url, allow)).toBe('allowed');
    });
  }
});

describe('and nothing else', () => {
  const closed: [string, string[], RegExp][] = [
    ['http://127.0.0.2/x', ['127.0.0.1/32'], /loopback/],
    ['http://10.0.0.1/x', ['192.168.0.0/16'], /private/],
    ['http://[::1]/x', ['127.0.0.1/32'], /loopback/],
    // An IPv6 list entry does not open an IPv4 address, and the IPv4 entry opens only the mapped form.
    ['http://127.0.0.1/x', ['::ffff:127.0.0.1'], /loopback/],
    ['http://[::127.0.0.1]/x', ['127.0.0.1/32'], /IPv4-compatible/],
    ['http://[64:ff9b::7f00:1]/x', ['127.0.0.1/32'], /NAT64/],
    ['http://[2002:7f00:1::]/x', ['127.0.0.1/32'], /6to4/],
    // Names are never resolved, so no address entry opens them.
    ['http://localhost:7670/x', ['127.0.0.1/32'], /local host/],
    ['http://hooks.internal/x', ['0.0.0.0/0'], /local host/],
  ];
  for (const [url, allow, message] of closed) {
    it(`${url} with ${allow.join(',')}`, () => {
      expect(verdict(url, allow)).toMatch(message);
    });
  }
});

describe('IMPORT_IP_DENY_LIST wins over the allow list', () => {
  const denied: [string, string[], string[]][] = [
    ['http://127.0.0.1/x', ['127.0.0.0/8'], ['127.0.0.1']],
    ['http://10.9.8.7/x', ['10.0.0.0/8'], ['10.9.0.0/16']],
    ['http://[::ffff:10.9.8.7]/x', ['10.0.0.0/8'], ['10.9.8.7']],
    ['http://[fd00::5]/x', ['fd00::/8'], ['fd00::/64']],
    // The defaults stay refused under an allow list that covers everything.
    ['http://169.254.169.254/latest/meta-data/', ['0.0.0.0/0'], ['0.0.0.0', '169.254.169.254']],
    ['http://0.0.0.0/x', ['0.0.0.0/0'], ['0.0.0.0', '169.254.169.254']],
  ];
  for (const [url, allow, deny] of denied) {
    it(`${url}: allowed by ${allow.join(',')}, denied by ${deny.join(',')}`, () => {
      expect(verdict(url, allow, deny)).toMatch(/not allowed \(IMPORT_IP_DENY_LIST, which wins over IMPORT_IP_ALLOW_LIST\)/);
    });
  }

  it('a public address the deny list names stays refused, listed or not', () => {
    expect(verdict('https://8.8.8.8/x', ['8.8.8.8'], ['8.8.8.0/24'])).toMatch(/IMPORT_IP_DENY_LIST/);
  });
});

describe('the variable', () => {
  const base = { STORAGE_LOCATIONS: 's3', STORAGE_S3_ENDPOINT: 'http://s3.test', STORAGE_S3_BUCKET: 'b', STORAGE_S3_KEY: 'k', STORAGE_S3_SECRET: 's' };

  it('is empty by default: every non-public address refused as before', () => {
    expect(parseConfig(base).files.importAllowList).toEqual([]);
  });

  it('takes addresses and CIDR ranges, comma-separated', () => {
    expect(parseConfig({ ...base, IMPORT_IP_ALLOW_LIST: '127.0.0.1/32, ::1 ,10.0.0.0/8' }).files.importAllowList).toEqual(['127.0.0.1/32', '::1', '10.0.0.0/8']);
  });

  it('refuses a name or a malformed range, naming the variable', () => {
    for (const value of ['localhost', '10.0.0.0/33', '127.0.0.1/32,hooks.example']) {
      expect(() => parseConfig({ ...base, IMPORT_IP_ALLOW_LIST: value })).toThrow(/IMPORT_IP_ALLOW_LIST expected comma-separated IP addresses or CIDR ranges/);
    }
  });
});
