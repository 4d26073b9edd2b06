import { describe, expect, it } from 'vitest';
import { classifyAddress, isPublicAddress, refusalReason } from './ip-policy.js';

const PUBLIC = [
  '1.1.1.1',
  '8.8.8.8',
  '93.184.215.14',
  '9.255.255.255', // just below 10/8
  '11.0.0.0', // just above 10/8
  '100.63.255.255', // just below 100.64/10
  '100.128.0.0', // just above 100.64/10
  '126.255.255.255',
  '128.0.0.0',
  '169.253.255.255',
  '169.255.0.0',
  '172.15.255.255',
  '172.32.0.0',
  '192.0.1.0',
  '192.0.3.0',
  '192.88.98.255',
  '192.167.255.255',
  '192.169.0.0',
  '198.17.255.255',
  '198.20.0.0',
  '198.51.99.255',
  '203.0.112.255',
  '223.255.255.255',
  // IPv6
  '2606:4700:4700::1111',
  '2001:4860:4860::8888',
  '2a00:1450:4001:80b::200e',
  '2001:200::1', // first public block after 2001::/23
  '3ffe::1',
  // Embedded public IPv4 is judged by that IPv4
  '::ffff:8.8.8.8',
  '::ffff:808:808',
  '0:0:0:0:0:ffff:0808:0808',
  '64:ff9b::8.8.8.8',
  '64:ff9b::808:808',
  '2002:808:808::1', // 6to4 of 8.8.8.8
  '::8.8.8.8', // deprecated IPv4-compatible
];

const REFUSED: [string, RegExp][] = [
  // IPv4
  ['0.0.0.0', /this network/],
  ['0.1.2.3', /this network/],
  ['10.0.0.1', /private/],
  ['10.255.255.255', /private/],
  ['100.64.0.1', /carrier-grade/],
  ['100.127.255.255', /carrier-grade/],
  ['127.0.0.1', /loopback/],
  ['127.255.255.254', /loopback/],
  ['169.254.169.254', /link-local.*metadata/],
  ['169.254.0.1', /link-local/],
  ['172.16.0.1', /private/],
  ['172.31.255.255', /private/],
  ['192.0.0.8', /IETF/],
  ['192.0.2.1', /TEST-NET-1/],
  ['192.88.99.1', /6to4 relay/],
  ['192.168.1.1', /private/],
  ['198.18.0.1', /benchmarking/],
  ['198.19.255.255', /benchmarking/],
  ['198.51.100.7', /TEST-NET-2/],
  ['203.0.113.9', /TEST-NET-3/],
  ['224.0.0.1', /multicast/],
  ['239.255.255.250', /multicast/],
  ['240.0.0.1', /reserved/],
  ['255.255.255.254', /reserved/],
  ['255.255.255.255', /broadcast/],
  // IPv6 specials
  ['::', /unspecified/],
  ['0:0:0:0:0:0:0:0', /unspecified/],
  ['::1', /loopback/],
  ['0:0:0:0:0:0:0:1', /loopback/],
  ['[::1]', /loopback/],
  ['fc00::1', /unique local/],
  ['fd12:3456:789a::1', /unique local/],
  ['fe80::1', /link-local/],
  ['fe80::1%eth0', /link-local/],
  ['febf:ffff::1', /link-local/],
  ['fec0::1', /site-local/],
  ['ff02::1', /multicast/],
  ['ff0e::fb', /multicast/],
  ['2001:db8::1', /documentation/],
  ['2001:db8:ffff::1', /documentation/],
  ['3fff::1', /documentation/],
  ['100::1', /discard/],
  ['100::ffff:ffff:ffff:ffff', /discard/],
  ['2001::1', /Teredo/],
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', /Teredo/],
  ['2001:10::1', /IETF protocol/], // ORCHID
  ['2001:2::1', /IETF protocol/], // benchmarking
  ['64:ff9b:1::a00:1', /local-use NAT64/],
  ['64:ff9b:1::808:808', /local-use NAT64/],
  ['1::1', /not global unicast/],
  ['4000::1', /not global unicast/],
  ['5f00::1', /not global unicast/],
  ['::ffff:0:7f00:1', /not global unicast/], // SIIT IPv4-translated form
  // IPv4-mapped, in every spelling
  ['::ffff:127.0.0.1', /IPv4-mapped form of 127\.0\.0\.1: loopback/],
  ['::ffff:7f00:1', /IPv4-mapped form of 127\.0\.0\.1: loopback/],
  ['::FFFF:7F00:0001', /IPv4-mapped form of 127\.0\.0\.1/],
  ['0:0:0:0:0:ffff:7f00:1', /IPv4-mapped form of 127\.0\.0\.1/],
  ['0000:0000:0000:0000:0000:ffff:127.0.0.1', /IPv4-mapped form of 127\.0\.0\.1/],
  ['::ffff:a9fe:a9fe', /IPv4-mapped form of 169\.254\.169\.254: link-local/],
  ['::ffff:10.1.2.3', /IPv4-mapped form of 10\.1\.2\.3: private/],
  ['::ffff:0.0.0.0', /IPv4-mapped form of 0\.0\.0\.0/],
  ['::ffff:c0a8:101', /IPv4-mapped form of 192\.168\.1\.1/],
  // IPv4-compatible (deprecated)
  ['::127.0.0.1', /IPv4-compatible form of 127\.0\.0\.1/],
  ['::7f00:1', /IPv4-compatible form of 127\.0\.0\.1/],
  ['::a00:1', /IPv4-compatible form of 10\.0\.0\.1/],
  // NAT64 well-known prefix
  ['64:ff9b::7f00:1', /NAT64 form of 127\.0\.0\.1/],
  ['64:ff9b::127.0.0.1', /NAT64 form of 127\.0\.0\.1/],
  ['64:ff9b::a9fe:a9fe', /NAT64 form of 169\.254\.169\.254/],
  ['64:ff9b::10.0.0.1', /NAT64 form of 10\.0\.0\.1/],
  // 6to4
  ['2002:7f00:1::', /6to4 form of 127\.0\.0\.1/],
  ['2002:a9fe:a9fe::1', /6to4 form of 169\.254\.169\.254/],
  ['2002:c0a8:0101:1::1', /6to4 form of 192\.168\.1\.1/],
  ['2002:a00:1::', /6to4 form of 10\.0\.0\.1/],
  // Not addresses at all
  ['localhost', /not an IP address/],
  ['', /not an IP address/],
  ['2130706433', /not an IP address/], // URL parsers normalise this; the policy takes dotted quads only
  ['127.1', /not an IP address/],
  ['0x7f.0.0.1', /not an IP address/],
  ['1.2.3.4.5', /not an IP address/],
  ['::ffff:127.0.0.256', /not an IP address/],
  ['1:2:3:4:5:6:7:8:9', /not an IP address/],
];

describe('isPublicAddress', () => {
  it.each(PUBLIC)('%s is public', (ip) => {
    expect(classifyAddress(ip)).toEqual({ public: true });
    expect(isPublicAddress(ip)).toBe(true);
    expect(refusalReason(ip)).toBeNull();
  });

  it.each(REFUSED)('%s is refused (%s)', (ip, reason) => {
    expect(isPublicAddress(ip)).toBe(false);
    expect(refusalReason(ip)).toMatch(reason);
  });
});
