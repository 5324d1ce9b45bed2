// IP and MAC addresses as text <-> the bytes netlink carries (network order for IPs).
import { isIPv4, isIPv6 } from 'node:net';
import { AF } from './constants.js';

export interface IpBytes {
  readonly family: typeof AF.INET | typeof AF.INET6;
  readonly bytes: Buffer;
}

/** Parses a textual IPv4 or IPv6 address; throws a RangeError naming `field` if it is neither. */
export function ipToBytes(ip: string, field = 'ip'): IpBytes {
  if (isIPv4(ip)) return { family: AF.INET, bytes: Buffer.from(ip.split('.').map(Number)) };
  if (isIPv6(ip)) return { family: AF.INET6, bytes: ipv6ToBytes(ip) };
  throw new RangeError(`${field}: '${ip}' is not an IPv4 or IPv6 address`);
}

function ipv6ToBytes(ip: string): Buffer {
  const out = Buffer.alloc(16);
  let text = ip;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, -v4[1]!.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** Formats 4 or 16 bytes as an address (RFC 5952 for IPv6); other sizes as hex. */
export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length === 16) return formatIpv6(Buffer.from(b.buffer, b.byteOffset, 16));
  return Buffer.from(b).toString('hex');
}

function formatIpv6(b: Buffer): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(b.readUInt16BE(i * 2));
  // The longest run (length >= 2) of zero groups collapses to "::".
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  if (best === -1) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

export function isMac(mac: string): boolean {
  return MAC_RE.test(mac);
}

/** "02:00:00:00:00:01" -> 6 bytes; throws a RangeError naming `field` otherwise. */
export function macToBytes(mac: string, field = 'mac'): Buffer {
  if (!isMac(mac)) throw new RangeError(`${field}: '${mac}' is not a MAC address (aa:bb:cc:dd:ee:ff)`);
  return Buffer.from(mac.replace(/:/g, ''), 'hex');
}

/** Any link-layer address as lower-case colon-separated hex. */
export function bytesToMac(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
}
