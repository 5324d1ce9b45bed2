// ofp_match with OXM fields: encode a Match, decode one back, and a short text of a match or flow
// for error messages. Fields go on the wire in the order Open vSwitch emits them (in_port, eth_src,
// eth_dst, eth_type, vlan_vid, arp_*, tunnel_id), so our bytes equal ovs-ofctl's.
import { OFPMT_OXM, OFPXMC, OFPXMT } from './constants.js';
import { OpenFlowDecodeError, OpenFlowEncodeError } from './errors.js';
import { type FieldValue, type ValueKind, decodeValue, encodeValue, oxmHasMask, oxmHeader, oxmLength, pad8, valueBytes } from './fields.js';
import type { Flow, Match } from './messages.js';

type MatchKey = keyof Match;

interface MatchField {
  readonly key: MatchKey;
  readonly kind: ValueKind;
  readonly header: number;
  /** ovs-ofctl's name, for texts. */
  readonly text: string;
}

const ETH_TYPE_ARP = 0x0806;

const entry = (key: MatchKey, field: number, kind: ValueKind, text: string): MatchField =>
  ({ key, kind, header: oxmHeader(OFPXMC.OPENFLOW_BASIC, field, valueBytes(kind)), text });

/** In Open vSwitch's wire order. */
const MATCH_FIELDS: readonly MatchField[] = [
  entry('inPort', OFPXMT.IN_PORT, 'u32', 'in_port'),
  entry('ethSrc', OFPXMT.ETH_SRC, 'mac', 'dl_src'),
  entry('ethDst', OFPXMT.ETH_DST, 'mac', 'dl_dst'),
  entry('ethType', OFPXMT.ETH_TYPE, 'u16', 'dl_type'),
  entry('vlanVid', OFPXMT.VLAN_VID, 'vid', 'dl_vlan'),
  entry('arpOp', OFPXMT.ARP_OP, 'u16', 'arp_op'),
  entry('arpSpa', OFPXMT.ARP_SPA, 'ipv4', 'arp_spa'),
  entry('arpTpa', OFPXMT.ARP_TPA, 'ipv4', 'arp_tpa'),
  entry('tunnelId', OFPXMT.TUNNEL_ID, 'u64', 'tun_id'),
];
const BY_HEADER = new Map(MATCH_FIELDS.map((f) => [f.header, f]));
const ARP_KEYS: readonly MatchKey[] = ['arpOp', 'arpSpa', 'arpTpa'];

/** The whole ofp_match (type, length, OXM fields, padding to 8 bytes). */
export function encodeMatch(match: Match, path = 'match'): Buffer {
  // OXM prerequisites: the switch refuses an arp_* field without eth_type=ARP (OFPBMC_BAD_PREREQ).
  for (const k of ARP_KEYS) {
    if (match[k] !== undefined && match.ethType !== ETH_TYPE_ARP) {
      throw new OpenFlowEncodeError(`${path}.${k}`, `needs ethType 0x0806 (ARP) in the same match`);
    }
  }
  const parts: Buffer[] = [];
  let length = 4;
  for (const f of MATCH_FIELDS) {
    const v = match[f.key];
    if (v === undefined) continue;
    const value = encodeValue(f.kind, v, `${path}.${f.key}`);
    const tlv = Buffer.alloc(4 + value.length);
    tlv.writeUInt32BE(f.header, 0);
    value.copy(tlv, 4);
    parts.push(tlv);
    length += tlv.length;
  }
  const out = Buffer.alloc(pad8(length));
  out.writeUInt16BE(OFPMT_OXM, 0);
  out.writeUInt16BE(length, 2);
  let off = 4;
  for (const p of parts) off += p.copy(out, off);
  return out;
}

/** Decodes the ofp_match at `off`; `size` includes its padding. */
export function decodeMatch(buf: Buffer, off: number): { match: Match; size: number } {
  if (buf.length - off < 4) throw new OpenFlowDecodeError(`match: ${buf.length - off} bytes, need 4`, off);
  const type = buf.readUInt16BE(off);
  const length = buf.readUInt16BE(off + 2);
  if (type !== OFPMT_OXM) throw new OpenFlowDecodeError(`match: type ${type}, expected OXM (1)`, off);
  if (length < 4 || off + pad8(length) > buf.length) throw new OpenFlowDecodeError(`match: length ${length} runs past the message`, off);
  const match: Record<string, FieldValue> = {};
  let p = off + 4;
  const end = off + length;
  while (p < end) {
    if (end - p < 4) throw new OpenFlowDecodeError(`match: truncated OXM header`, p);
    const header = buf.readUInt32BE(p);
    const len = oxmLength(header);
    if (p + 4 + len > end) throw new OpenFlowDecodeError(`match: OXM 0x${header.toString(16)} runs past the match`, p);
    const f = BY_HEADER.get(header);
    if (!f) {
      const why = oxmHasMask(header) ? 'masked fields are not supported' : 'unsupported field';
      throw new OpenFlowDecodeError(`match: OXM 0x${header.toString(16).padStart(8, '0')}: ${why}`, p);
    }
    if (match[f.key] !== undefined) throw new OpenFlowDecodeError(`match: ${f.text} twice`, p);
    match[f.key] = decodeValue(f.kind, buf.subarray(p + 4, p + 4 + len), `match ${f.text}`);
    p += 4 + len;
  }
  return { match: match as Match, size: pad8(length) };
}

const hex = (n: number, width: number): string => `0x${n.toString(16).padStart(width, '0')}`;

/** 'dl_type=0x0806,dl_vlan=5,arp_tpa=10.1.0.7' ('any' when empty), in wire order. */
export function formatMatch(match: Match): string {
  const out: string[] = [];
  for (const f of MATCH_FIELDS) {
    const v = match[f.key];
    if (v === undefined) continue;
    const text = f.key === 'ethType' && typeof v === 'number' ? hex(v, 4) : typeof v === 'bigint' ? `0x${v.toString(16)}` : String(v);
    out.push(`${f.text}=${text}`);
  }
  return out.length ? out.join(',') : 'any';
}

/** 'table=1,priority=100,dl_type=0x0806,...': enough to find the flow. */
export function describeFlow(flow: Flow): string {
  return `table=${flow.table},priority=${flow.priority},${formatMatch(flow.match)}`;
}
