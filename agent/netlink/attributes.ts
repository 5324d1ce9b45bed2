// Netlink attributes (TLV): u16 length (header included, padding excluded), u16 type, payload,
// padded to 4 bytes. Nested attributes carry their children as payload.
import { NLA_HDRLEN, NLA_TYPE_MASK } from './constants.js';
import { NetlinkDecodeError } from './errors.js';

export const align4 = (n: number): number => (n + 3) & ~3;

/** An attribute to encode: raw payload bytes, or children for a nested attribute. */
export type Attribute =
  | { readonly type: number; readonly data: Uint8Array }
  | { readonly type: number; readonly nested: readonly Attribute[] };

function u32Bytes(v: number, signed: boolean): Buffer {
  const b = Buffer.alloc(4);
  if (signed) b.writeInt32LE(v);
  else b.writeUInt32LE(v);
  return b;
}

/** Attribute constructors. Numbers are host order (little-endian here), as the kernel expects. */
export const attr = {
  bytes: (type: number, data: Uint8Array): Attribute => ({ type, data }),
  u8: (type: number, v: number): Attribute => ({ type, data: Uint8Array.of(v) }),
  u16: (type: number, v: number): Attribute => {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v);
    return { type, data: b };
  },
  u32: (type: number, v: number): Attribute => ({ type, data: u32Bytes(v, false) }),
  s32: (type: number, v: number): Attribute => ({ type, data: u32Bytes(v, true) }),
  /** NUL-terminated, as the kernel's NLA_STRING/NLA_NUL_STRING policies accept. */
  string: (type: number, s: string): Attribute => ({ type, data: Buffer.from(`${s}\0`, 'utf8') }),
  /** Without the NUL: what iproute2 sends for IFLA_IFALIAS and IFLA_INFO_KIND (the kernel stores the bytes as given). */
  text: (type: number, s: string): Attribute => ({ type, data: Buffer.from(s, 'utf8') }),
  // No NLA_F_NESTED flag: iproute2 does not set it for rtnetlink and the legacy policies ignore it.
  nested: (type: number, children: readonly Attribute[]): Attribute => ({ type, nested: children }),
};

function payloadLength(a: Attribute): number {
  return 'nested' in a ? attributesLength(a.nested) : a.data.length;
}

/** Bytes the attributes take, each padded to 4. */
export function attributesLength(attrs: readonly Attribute[]): number {
  let n = 0;
  for (const a of attrs) n += align4(NLA_HDRLEN + payloadLength(a));
  return n;
}

/** Writes attributes at `offset` (padding zeroed); returns the offset after them. */
export function writeAttributes(buf: Buffer, offset: number, attrs: readonly Attribute[]): number {
  for (const a of attrs) {
    const start = offset;
    offset += NLA_HDRLEN;
    if ('nested' in a) offset = writeAttributes(buf, offset, a.nested);
    else {
      buf.set(a.data, offset);
      offset += a.data.length;
    }
    const len = offset - start;
    if (len > 0xffff) throw new RangeError(`attribute ${a.type} is ${len} bytes, more than a u16 length allows`);
    buf.writeUInt16LE(len, start);
    buf.writeUInt16LE(a.type, start + 2);
    const end = align4(offset);
    buf.fill(0, offset, end);
    offset = end;
  }
  return offset;
}

export function encodeAttributes(attrs: readonly Attribute[]): Buffer {
  const buf = Buffer.alloc(attributesLength(attrs));
  writeAttributes(buf, 0, attrs);
  return buf;
}

/** A received attribute: its type without the NESTED/NET_BYTEORDER flag bits, and its payload. */
export interface RawAttribute {
  readonly type: number;
  readonly data: Buffer;
}

/**
 * Splits `buf[start, end)` into attributes. Fewer than 4 trailing bytes are ignored (as RTA_OK
 * does); a length that is too short or runs past `end` is a decode error.
 */
export function decodeAttributes(buf: Buffer, start = 0, end = buf.length, where = 'attributes'): RawAttribute[] {
  const out: RawAttribute[] = [];
  let off = start;
  while (off + NLA_HDRLEN <= end) {
    const len = buf.readUInt16LE(off);
    const type = buf.readUInt16LE(off + 2) & NLA_TYPE_MASK;
    if (len < NLA_HDRLEN || off + len > end) {
      throw new NetlinkDecodeError(`${where}: attribute type ${type} at byte ${off} has length ${len}, ${end - off} bytes left`, off);
    }
    out.push({ type, data: buf.subarray(off + NLA_HDRLEN, off + len) });
    off += align4(len);
  }
  return out;
}

/** Readers that check the payload size, so a short attribute is a decode error, not garbage. */
export const read = {
  u8(a: RawAttribute, name: string): number {
    need(a, 1, name);
    return a.data[0]!;
  },
  u16(a: RawAttribute, name: string): number {
    need(a, 2, name);
    return a.data.readUInt16LE(0);
  },
  u32(a: RawAttribute, name: string): number {
    need(a, 4, name);
    return a.data.readUInt32LE(0);
  },
  s32(a: RawAttribute, name: string): number {
    need(a, 4, name);
    return a.data.readInt32LE(0);
  },
  /** Up to the first NUL (names are NUL-terminated; some kernels pad further). */
  string(a: RawAttribute): string {
    const nul = a.data.indexOf(0);
    return a.data.toString('utf8', 0, nul === -1 ? a.data.length : nul);
  },
};

function need(a: RawAttribute, n: number, name: string): void {
  if (a.data.length < n) throw new NetlinkDecodeError(`${name}: expected ${n} bytes, got ${a.data.length}`);
}
