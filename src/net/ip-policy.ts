/**
 * Which IP addresses Longshot may connect to on behalf of a client (callbacks, image URLs).
 *
 * Only public unicast addresses pass. The rules are a hand-written table over parsed bytes rather
 * than `net.BlockList`, because addresses that embed an IPv4 address (IPv4-mapped, NAT64, 6to4,
 * IPv4-compatible) must be judged by the IPv4 address they carry, and the reason for a refusal
 * should name the range. See docs/network-guard.md.
 */
import { isIP } from 'node:net';

/** The verdict on one address: public, or refused with a human reason. */
export type AddressVerdict = { public: true } | { public: false; reason: string };

interface Range {
  /** Network bytes (4 for IPv4, 16 for IPv6). */
  net: number[];
  bits: number;
  reason: string;
}

function v4(cidr: string, reason: string): Range {
  const [addr, bits] = cidr.split('/');
  return { net: (addr ?? '').split('.').map(Number), bits: Number(bits), reason };
}

function v6(cidr: string, reason: string): Range {
  const [addr, bits] = cidr.split('/');
  const bytes = parseIPv6(addr ?? '');
  if (!bytes) throw new Error(`bad IPv6 range in table: ${cidr}`);
  return { net: bytes, bits: Number(bits), reason };
}

// Ordered: the first match gives the reason. 255.255.255.255 precedes 240/4 for a clearer reason.
const V4_REFUSED: readonly Range[] = [
  v4('0.0.0.0/8', '"this network" (0.0.0.0/8; 0.0.0.0 reaches the local host)'),
  v4('10.0.0.0/8', 'private (10.0.0.0/8)'),
  v4('100.64.0.0/10', 'carrier-grade NAT shared space (100.64.0.0/10)'),
  v4('127.0.0.0/8', 'loopback (127.0.0.0/8)'),
  v4('169.254.0.0/16', 'link-local, incl. cloud metadata 169.254.169.254 (169.254.0.0/16)'),
  v4('172.16.0.0/12', 'private (172.16.0.0/12)'),
  v4('192.0.0.0/24', 'IETF protocol assignments (192.0.0.0/24)'),
  v4('192.0.2.0/24', 'documentation TEST-NET-1 (192.0.2.0/24)'),
  v4('192.88.99.0/24', '6to4 relay anycast (192.88.99.0/24)'),
  v4('192.168.0.0/16', 'private (192.168.0.0/16)'),
  v4('198.18.0.0/15', 'benchmarking (198.18.0.0/15)'),
  v4('198.51.100.0/24', 'documentation TEST-NET-2 (198.51.100.0/24)'),
  v4('203.0.113.0/24', 'documentation TEST-NET-3 (203.0.113.0/24)'),
  v4('224.0.0.0/4', 'multicast (224.0.0.0/4)'),
  v4('255.255.255.255/32', 'limited broadcast (255.255.255.255)'),
  v4('240.0.0.0/4', 'reserved (240.0.0.0/4)'),
];

/** IPv6 ranges whose last 32 bits (or bits 16..48 for 6to4) are an IPv4 address to judge instead. */
interface Embedding {
  range: Range;
  /** Byte offset of the embedded IPv4 address. */
  at: number;
  label: string;
}

// `::` and `::1` are inside ::/96 but get their own reasons, so they are listed before it.
const V6_REFUSED_FIRST: readonly Range[] = [v6('::/128', 'unspecified (::)'), v6('::1/128', 'loopback (::1)')];

const V6_EMBEDDED: readonly Embedding[] = [
  { range: v6('::ffff:0:0/96', ''), at: 12, label: 'IPv4-mapped' },
  { range: v6('::/96', ''), at: 12, label: 'IPv4-compatible' },
  { range: v6('64:ff9b::/96', ''), at: 12, label: 'NAT64' },
  { range: v6('2002::/16', ''), at: 2, label: '6to4' },
];

const V6_REFUSED: readonly Range[] = [
  // RFC 8215 local-use NAT64: where the IPv4 address sits depends on the local network, so it
  // cannot be judged reliably; it is not globally routable either.
  v6('64:ff9b:1::/48', 'local-use NAT64 (64:ff9b:1::/48)'),
  v6('100::/64', 'discard-only (100::/64)'),
  v6('2001::/32', 'Teredo tunnel (2001::/32)'),
  v6('2001:db8::/32', 'documentation (2001:db8::/32)'),
  v6('2001::/23', 'IETF protocol assignments (2001::/23)'),
  v6('3fff::/20', 'documentation (3fff::/20)'),
  v6('fc00::/7', 'unique local (fc00::/7)'),
  v6('fe80::/10', 'link-local (fe80::/10)'),
  v6('fec0::/10', 'site-local (fec0::/10)'),
  v6('ff00::/8', 'multicast (ff00::/8)'),
];

const V6_GLOBAL_UNICAST = v6('2000::/3', '');

function inRange(bytes: readonly number[], r: Range): boolean {
  if (bytes.length !== r.net.length) return false;
  let bits = r.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((bytes[i] ?? 0) & mask) !== ((r.net[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** Parses a dotted-quad IPv4 address (strict: four decimal parts, as `isIP` accepts). */
function parseIPv4(ip: string): number[] | null {
  if (isIP(ip) !== 4) return null;
  return ip.split('.').map(Number);
}

/** Parses an IPv6 address (optionally with a trailing dotted quad) into 16 bytes. */
function parseIPv6(ip: string): number[] | null {
  if (isIP(ip) !== 6) return null;
  const halves = ip.split('::');
  if (halves.length > 2) return null;
  const groups = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i] ?? '';
      if (p.includes('.')) {
        if (i !== pieces.length - 1) return null;
        const q = parseIPv4(p);
        if (!q) return null;
        out.push(((q[0] ?? 0) << 8) | (q[1] ?? 0), ((q[2] ?? 0) << 8) | (q[3] ?? 0));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return null;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0] ?? '');
  const tail = halves.length === 2 ? groups(halves[1] ?? '') : [];
  if (!head || !tail) return null;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return null;
  const all = [...head, ...new Array<number>(fill).fill(0), ...tail];
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

/** Strips URL brackets and an IPv6 zone id (`fe80::1%eth0`); zones are only used on link-local. */
function bare(ip: string): string {
  let s = ip.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const pct = s.indexOf('%');
  return pct >= 0 ? s.slice(0, pct) : s;
}

function judgeV4(bytes: readonly number[]): AddressVerdict {
  for (const r of V4_REFUSED) if (inRange(bytes, r)) return { public: false, reason: r.reason };
  return { public: true };
}

function judgeV6(bytes: readonly number[]): AddressVerdict {
  for (const r of V6_REFUSED_FIRST) if (inRange(bytes, r)) return { public: false, reason: r.reason };
  for (const e of V6_EMBEDDED) {
    if (!inRange(bytes, e.range)) continue;
    const inner = bytes.slice(e.at, e.at + 4);
    const verdict = judgeV4(inner);
    if (verdict.public) return verdict;
    return { public: false, reason: `${e.label} form of ${inner.join('.')}: ${verdict.reason}` };
  }
  for (const r of V6_REFUSED) if (inRange(bytes, r)) return { public: false, reason: r.reason };
  if (!inRange(bytes, V6_GLOBAL_UNICAST)) {
    return { public: false, reason: 'not global unicast (outside 2000::/3)' };
  }
  return { public: true };
}

/**
 * Judges one IP address (IPv4 dotted quad or any IPv6 spelling, brackets and zone id allowed).
 * Anything that is not an IP address is refused.
 */
export function classifyAddress(ip: string): AddressVerdict {
  const s = bare(ip);
  const b4 = parseIPv4(s);
  if (b4) return judgeV4(b4);
  const b6 = parseIPv6(s);
  if (b6) return judgeV6(b6);
  return { public: false, reason: `not an IP address: ${JSON.stringify(ip)}` };
}

/** True when `ip` is a public unicast address that Longshot may connect to. */
export function isPublicAddress(ip: string): boolean {
  return classifyAddress(ip).public;
}

/** The reason `ip` is refused, or null when it is public. */
export function refusalReason(ip: string): string | null {
  const v = classifyAddress(ip);
  return v.public ? null : v.reason;
}
