// IPv4 and MAC text <-> numbers, strict: no leading zeros, no shorthand, no surprises.

const OCTET = /^(0|[1-9][0-9]{0,2})$/;

/** Parses dotted-quad IPv4 to an unsigned 32-bit number; undefined if not exactly that. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const p of parts) {
    if (!OCTET.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value;
}

export function formatIpv4(value: number): string {
  return `${(value >>> 24) & 255}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/** The network mask of a prefix length, as an unsigned number. */
export function prefixMask(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

export function networkOf(ip: number, prefixLength: number): number {
  return (ip & prefixMask(prefixLength)) >>> 0;
}

export function broadcastOf(ip: number, prefixLength: number): number {
  return (networkOf(ip, prefixLength) | ~prefixMask(prefixLength)) >>> 0;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** Lower-case canonical MAC, or undefined if the text is not "xx:xx:xx:xx:xx:xx". */
export function parseMac(text: string): string | undefined {
  const lower = text.toLowerCase();
  return MAC.test(lower) ? lower : undefined;
}

export function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
}
