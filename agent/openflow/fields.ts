// The fields the codec knows: their OXM/NXM headers, widths and value encodings, shared by the
// match (match.ts) and the set_field/move actions (actions.ts).
import { OFPVID_PRESENT, OFPXMC, OFPXMT } from './constants.js';
import { OpenFlowDecodeError, OpenFlowEncodeError } from './errors.js';
import type { Field } from './messages.js';

export type ValueKind = 'u16' | 'u32' | 'u64' | 'vid' | 'mac' | 'ipv4';
export type FieldValue = string | number | bigint;

/** Rounds up to a multiple of 8: matches, actions and instructions are padded so. */
export const pad8 = (n: number): number => (n + 7) & ~7;

/** class(16) | field(7) | hasmask(1) | length(8), as one u32. */
export function oxmHeader(cls: number, field: number, length: number): number {
  return ((cls << 16) | (field << 9) | length) >>> 0;
}

export const oxmClass = (header: number): number => header >>> 16;
export const oxmField = (header: number): number => (header >>> 9) & 0x7f;
export const oxmHasMask = (header: number): boolean => (header & 0x100) !== 0;
export const oxmLength = (header: number): number => header & 0xff;

const BYTES: Record<ValueKind, number> = { u16: 2, u32: 4, u64: 8, vid: 2, mac: 6, ipv4: 4 };

export interface FieldSpec {
  readonly name: Field;
  readonly kind: ValueKind;
  /** The header in set_field (OXM basic where one exists; NXM for tun_ipv4_dst, as OVS sends it). */
  readonly header: number;
  /** The header OVS puts in NXAST_REG_MOVE on OpenFlow 1.3 (checked against ovs-ofctl 3.1). */
  readonly moveHeader: number;
  /** Width for REG_MOVE's n_bits. */
  readonly bits: number;
}

const basic = (field: number, kind: ValueKind): number => oxmHeader(OFPXMC.OPENFLOW_BASIC, field, BYTES[kind]);
// NXM_OF_* fields are class 0, NXM_NX_* class 1 (nicira-ext.h / meta-flow.h field numbers).
const nxm0 = (field: number, kind: ValueKind): number => oxmHeader(OFPXMC.NXM_0, field, BYTES[kind]);
const nxm1 = (field: number, kind: ValueKind): number => oxmHeader(OFPXMC.NXM_1, field, BYTES[kind]);

const spec = (name: Field, kind: ValueKind, header: number, moveHeader: number, bits: number): FieldSpec =>
  ({ name, kind, header, moveHeader, bits });

export const FIELDS: Readonly<Record<Field, FieldSpec>> = {
  eth_dst: spec('eth_dst', 'mac', basic(OFPXMT.ETH_DST, 'mac'), nxm0(1, 'mac'), 48),
  eth_src: spec('eth_src', 'mac', basic(OFPXMT.ETH_SRC, 'mac'), nxm0(2, 'mac'), 48),
  // OVS has no NXM header for the VID alone: REG_MOVE carries the OXM one, 12 bits wide.
  vlan_vid: spec('vlan_vid', 'vid', basic(OFPXMT.VLAN_VID, 'vid'), basic(OFPXMT.VLAN_VID, 'vid'), 12),
  arp_op: spec('arp_op', 'u16', basic(OFPXMT.ARP_OP, 'u16'), nxm0(15, 'u16'), 16),
  arp_spa: spec('arp_spa', 'ipv4', basic(OFPXMT.ARP_SPA, 'ipv4'), nxm0(16, 'ipv4'), 32),
  arp_tpa: spec('arp_tpa', 'ipv4', basic(OFPXMT.ARP_TPA, 'ipv4'), nxm0(17, 'ipv4'), 32),
  arp_sha: spec('arp_sha', 'mac', basic(OFPXMT.ARP_SHA, 'mac'), nxm1(17, 'mac'), 48),
  arp_tha: spec('arp_tha', 'mac', basic(OFPXMT.ARP_THA, 'mac'), nxm1(18, 'mac'), 48),
  tunnel_id: spec('tunnel_id', 'u64', basic(OFPXMT.TUNNEL_ID, 'u64'), nxm1(16, 'u64'), 64),
  tun_ipv4_dst: spec('tun_ipv4_dst', 'ipv4', nxm1(32, 'ipv4'), nxm1(32, 'ipv4'), 32),
};

const BY_HEADER = new Map<number, FieldSpec>();
const BY_MOVE_HEADER = new Map<number, FieldSpec>();
for (const f of Object.values(FIELDS)) {
  BY_HEADER.set(f.header, f);
  BY_MOVE_HEADER.set(f.moveHeader, f);
}

export const fieldBySetHeader = (header: number): FieldSpec | undefined => BY_HEADER.get(header);
export const fieldByMoveHeader = (header: number): FieldSpec | undefined => BY_MOVE_HEADER.get(header);
export const valueBytes = (kind: ValueKind): number => BYTES[kind];

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function uint(value: FieldValue, max: number, what: string, path: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new OpenFlowEncodeError(path, `${what} must be an integer 0..${max}, got ${String(value)}`);
  }
  return value;
}

/** `value` as `kind`'s bytes; `path` names the field in errors ("flow.match.ethDst"). */
export function encodeValue(kind: ValueKind, value: FieldValue, path: string): Buffer {
  const out = Buffer.alloc(BYTES[kind]);
  switch (kind) {
    case 'u16':
      out.writeUInt16BE(uint(value, 0xffff, 'a u16', path));
      break;
    case 'u32':
      out.writeUInt32BE(uint(value, 0xffffffff, 'a u32', path));
      break;
    case 'vid':
      out.writeUInt16BE(uint(value, 0xfff, 'a VLAN id', path) | OFPVID_PRESENT);
      break;
    case 'u64': {
      const v = typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : value;
      if (typeof v !== 'bigint' || v < 0n || v > 0xffffffffffffffffn) throw new OpenFlowEncodeError(path, `a u64 must be a bigint 0..2^64-1, got ${String(value)}`);
      out.writeBigUInt64BE(v);
      break;
    }
    case 'mac':
      if (typeof value !== 'string' || !MAC.test(value)) throw new OpenFlowEncodeError(path, `not a MAC address: ${String(value)}`);
      out.write(value.replaceAll(':', ''), 'hex');
      break;
    case 'ipv4': {
      const m = typeof value === 'string' ? IPV4.exec(value) : null;
      const octets = m ? m.slice(1).map(Number) : [];
      if (octets.length !== 4 || octets.some((o) => o > 255)) throw new OpenFlowEncodeError(path, `not an IPv4 address: ${String(value)}`);
      octets.forEach((o, i) => out.writeUInt8(o, i));
      break;
    }
  }
  return out;
}

/** The inverse of encodeValue; `buf` holds exactly the value's bytes. */
export function decodeValue(kind: ValueKind, buf: Buffer, what: string): FieldValue {
  if (buf.length !== BYTES[kind]) throw new OpenFlowDecodeError(`${what}: ${buf.length} bytes, expected ${BYTES[kind]}`);
  switch (kind) {
    case 'u16':
      return buf.readUInt16BE(0);
    case 'u32':
      return buf.readUInt32BE(0);
    case 'vid': {
      const v = buf.readUInt16BE(0);
      // Without the present bit the value means "no tag"; the model has no way to say it.
      if ((v & OFPVID_PRESENT) === 0 || v > (OFPVID_PRESENT | 0xfff)) throw new OpenFlowDecodeError(`${what}: VLAN_VID 0x${v.toString(16)} lacks OFPVID_PRESENT`);
      return v & 0xfff;
    }
    case 'u64':
      return buf.readBigUInt64BE(0);
    case 'mac':
      return [...buf].map((b) => b.toString(16).padStart(2, '0')).join(':');
    case 'ipv4':
      return [...buf].join('.');
  }
}
