// Pure decoders: a received datagram (one or more netlink messages) -> typed messages. Anything
// malformed becomes a NetlinkDecodeError; nothing here reads past a length it has not checked.
import { bytesToIp, bytesToMac } from './addresses.js';
import { type RawAttribute, decodeAttributes, read } from './attributes.js';
import {
  AF, IFA, IFLA, IFLA_INET6, IFLA_INFO, NDA, NLMSG, NLMSGERR_ATTR, NLMSG_HDRLEN, NLM_F, RTA, RTM, SIZEOF, VETH_INFO_PEER,
  messageTypeName,
} from './constants.js';
import { NetlinkDecodeError } from './errors.js';
import type {
  AddrAttributes, ExtAck, IfAddr, IfInfo, LinkAttributes, LinkInfo, Nd, NeighAttributes, NetlinkHeader, NetlinkMessage,
  RouteAttributes, Rt,
} from './messages.js';

export function parseHeader(buf: Buffer, off: number): NetlinkHeader {
  return {
    length: buf.readUInt32LE(off),
    type: buf.readUInt16LE(off + 4),
    flags: buf.readUInt16LE(off + 6),
    seq: buf.readUInt32LE(off + 8),
    pid: buf.readUInt32LE(off + 12),
  };
}

export interface ParsedDatagram {
  /** Every message decoded before the first error. */
  readonly messages: NetlinkMessage[];
  readonly error?: NetlinkDecodeError;
}

/** Decodes what it can: the messages up to the first malformed one, and that error. */
export function parseDatagram(buf: Buffer): ParsedDatagram {
  const messages: NetlinkMessage[] = [];
  let off = 0;
  try {
    while (off < buf.length) {
      if (buf.length - off < NLMSG_HDRLEN) {
        throw new NetlinkDecodeError(`truncated header: ${buf.length - off} bytes at byte ${off}`, off);
      }
      const header = parseHeader(buf, off);
      if (header.length < NLMSG_HDRLEN || header.length > buf.length - off) {
        throw new NetlinkDecodeError(
          `${messageTypeName(header.type)} at byte ${off} claims ${header.length} bytes, ${buf.length - off} left`, off);
      }
      const payload = buf.subarray(off + NLMSG_HDRLEN, off + header.length);
      try {
        messages.push(parseMessage(header, payload));
      } catch (e) {
        if (e instanceof NetlinkDecodeError) {
          throw new NetlinkDecodeError(`${messageTypeName(header.type)} seq ${header.seq} at byte ${off}: ${e.message}`, off);
        }
        throw e;
      }
      // The last message of a datagram may omit its padding.
      off += Math.min((header.length + 3) & ~3, buf.length - off);
    }
  } catch (e) {
    if (e instanceof NetlinkDecodeError) return { messages, error: e };
    // A RangeError from a Buffer read means a check above is missing: still a decode error.
    if (e instanceof RangeError) return { messages, error: new NetlinkDecodeError(e.message, off) };
    throw e;
  }
  return { messages };
}

/** All messages in `buf`; throws NetlinkDecodeError if any part is malformed. */
export function parseMessages(buf: Buffer): NetlinkMessage[] {
  const { messages, error } = parseDatagram(buf);
  if (error) throw error;
  return messages;
}

function needPayload(payload: Buffer, n: number, what: string): void {
  if (payload.length < n) throw new NetlinkDecodeError(`${what}: payload of ${payload.length} bytes, need ${n}`);
}

export function parseMessage(header: NetlinkHeader, payload: Buffer): NetlinkMessage {
  switch (header.type) {
    case NLMSG.ERROR:
      return { kind: 'error', header, ...parseError(header, payload) };
    case NLMSG.DONE:
      return { kind: 'done', header, ...parseDone(header, payload) };
    case RTM.NEWLINK:
    case RTM.DELLINK:
    case RTM.GETLINK:
    case RTM.SETLINK:
      return { kind: 'link', header, ...parseIfInfo(payload) };
    case RTM.NEWADDR:
    case RTM.DELADDR:
    case RTM.GETADDR:
      return { kind: 'addr', header, ...parseIfAddr(payload) };
    case RTM.NEWROUTE:
    case RTM.DELROUTE:
    case RTM.GETROUTE:
      return { kind: 'route', header, ...parseRt(payload) };
    case RTM.NEWNEIGH:
    case RTM.DELNEIGH:
    case RTM.GETNEIGH:
      return { kind: 'neigh', header, ...parseNd(payload) };
    default:
      return { kind: 'other', header, payload };
  }
}

function parseExtAck(buf: Buffer, start: number): ExtAck {
  const ack: { msg?: string; offset?: number; missingType?: number; missingNest?: number } = {};
  for (const a of decodeAttributes(buf, start, buf.length, 'extack')) {
    if (a.type === NLMSGERR_ATTR.MSG) ack.msg = read.string(a);
    else if (a.type === NLMSGERR_ATTR.OFFS) ack.offset = read.u32(a, 'NLMSGERR_ATTR_OFFS');
    else if (a.type === NLMSGERR_ATTR.MISS_TYPE) ack.missingType = read.u32(a, 'NLMSGERR_ATTR_MISS_TYPE');
    else if (a.type === NLMSGERR_ATTR.MISS_NEST) ack.missingNest = read.u32(a, 'NLMSGERR_ATTR_MISS_NEST');
  }
  return ack;
}

// struct nlmsgerr { int error; struct nlmsghdr msg; } then, unless NLM_F_CAPPED, the rest of the
// request; then, with NLM_F_ACK_TLVS, the extended-ACK attributes.
function parseError(header: NetlinkHeader, payload: Buffer): { errno: number; request: NetlinkHeader; extack: ExtAck | undefined } {
  needPayload(payload, 4 + NLMSG_HDRLEN, 'NLMSG_ERROR');
  const errno = 0 - payload.readInt32LE(0); // 0 - x, not -x: an ACK is +0, not -0
  const request = parseHeader(payload, 4);
  let extack: ExtAck | undefined;
  if (header.flags & NLM_F.ACK_TLVS) {
    const echoed = header.flags & NLM_F.CAPPED ? NLMSG_HDRLEN : (request.length + 3) & ~3;
    const start = 4 + echoed;
    if (start > payload.length) throw new NetlinkDecodeError(`NLMSG_ERROR: echoed request of ${echoed} bytes runs past the payload`);
    extack = parseExtAck(payload, start);
  }
  return { errno, request, extack };
}

function parseDone(header: NetlinkHeader, payload: Buffer): { errno: number; extack: ExtAck | undefined } {
  // Old kernels sent an empty NLMSG_DONE.
  if (payload.length < 4) return { errno: 0, extack: undefined };
  const errno = 0 - payload.readInt32LE(0); // 0 - x, not -x: an ACK is +0, not -0
  const extack = header.flags & NLM_F.ACK_TLVS ? parseExtAck(payload, 4) : undefined;
  return { errno, extack };
}

const ipOf = (a: RawAttribute): string => bytesToIp(a.data);

export function parseIfInfo(payload: Buffer): IfInfo {
  needPayload(payload, SIZEOF.IFINFOMSG, 'ifinfomsg');
  return {
    family: payload.readUInt8(0),
    deviceType: payload.readUInt16LE(2),
    index: payload.readInt32LE(4),
    flags: payload.readUInt32LE(8),
    change: payload.readUInt32LE(12),
    attrs: parseLinkAttributes(decodeAttributes(payload, SIZEOF.IFINFOMSG, payload.length, 'ifinfomsg')),
  };
}

function parseLinkAttributes(attrs: RawAttribute[]): LinkAttributes {
  const out: { -readonly [K in keyof LinkAttributes]: LinkAttributes[K] } = {};
  for (const a of attrs) {
    switch (a.type) {
      case IFLA.IFNAME: out.ifname = read.string(a); break;
      case IFLA.ADDRESS: out.address = bytesToMac(a.data); break;
      case IFLA.BROADCAST: out.broadcast = bytesToMac(a.data); break;
      case IFLA.MTU: out.mtu = read.u32(a, 'IFLA_MTU'); break;
      case IFLA.LINK: out.link = read.u32(a, 'IFLA_LINK'); break;
      case IFLA.MASTER: out.master = read.u32(a, 'IFLA_MASTER'); break;
      case IFLA.TXQLEN: out.txqlen = read.u32(a, 'IFLA_TXQLEN'); break;
      case IFLA.OPERSTATE: out.operstate = read.u8(a, 'IFLA_OPERSTATE'); break;
      case IFLA.CARRIER: out.carrier = read.u8(a, 'IFLA_CARRIER'); break;
      case IFLA.IFALIAS: out.alias = read.string(a); break;
      case IFLA.LINKINFO: out.linkInfo = parseLinkInfo(a); break;
      case IFLA.AF_SPEC: {
        const mode = parseAddrGenMode(a);
        if (mode !== undefined) out.addrGenMode = mode;
        break;
      }
      case IFLA.NET_NS_FD: out.netnsFd = read.u32(a, 'IFLA_NET_NS_FD'); break;
      case IFLA.NET_NS_PID: out.netnsPid = read.u32(a, 'IFLA_NET_NS_PID'); break;
      case IFLA.LINK_NETNSID: out.linkNetnsId = read.s32(a, 'IFLA_LINK_NETNSID'); break;
      case IFLA.EXT_MASK: out.extMask = read.u32(a, 'IFLA_EXT_MASK'); break;
      case IFLA.ALT_IFNAME: out.altName = read.string(a); break;
      default: break;
    }
  }
  return out;
}

function parseLinkInfo(a: RawAttribute): LinkInfo {
  const info: { -readonly [K in keyof LinkInfo]: LinkInfo[K] } = {};
  let data: Buffer | undefined;
  for (const c of decodeAttributes(a.data, 0, a.data.length, 'IFLA_LINKINFO')) {
    if (c.type === IFLA_INFO.KIND) info.kind = read.string(c);
    else if (c.type === IFLA_INFO.DATA) data = c.data;
    else if (c.type === IFLA_INFO.SLAVE_KIND) info.slaveKind = read.string(c);
  }
  if (data !== undefined) {
    const peer = info.kind === 'veth' ? decodeAttributes(data, 0, data.length, 'IFLA_INFO_DATA').find((c) => c.type === VETH_INFO_PEER) : undefined;
    if (peer) info.peer = parseIfInfo(peer.data);
    else info.data = data;
  }
  return info;
}

function parseAddrGenMode(a: RawAttribute): number | undefined {
  for (const af of decodeAttributes(a.data, 0, a.data.length, 'IFLA_AF_SPEC')) {
    if (af.type !== AF.INET6) continue;
    for (const c of decodeAttributes(af.data, 0, af.data.length, 'IFLA_AF_SPEC/AF_INET6')) {
      if (c.type === IFLA_INET6.ADDR_GEN_MODE) return read.u8(c, 'IFLA_INET6_ADDR_GEN_MODE');
    }
  }
  return undefined;
}

export function parseIfAddr(payload: Buffer): IfAddr {
  needPayload(payload, SIZEOF.IFADDRMSG, 'ifaddrmsg');
  const out: { -readonly [K in keyof AddrAttributes]: AddrAttributes[K] } = {};
  for (const a of decodeAttributes(payload, SIZEOF.IFADDRMSG, payload.length, 'ifaddrmsg')) {
    switch (a.type) {
      case IFA.ADDRESS: out.address = ipOf(a); break;
      case IFA.LOCAL: out.local = ipOf(a); break;
      case IFA.BROADCAST: out.broadcast = ipOf(a); break;
      case IFA.LABEL: out.label = read.string(a); break;
      case IFA.FLAGS: out.flags = read.u32(a, 'IFA_FLAGS'); break;
      default: break;
    }
  }
  return {
    family: payload.readUInt8(0),
    prefixLength: payload.readUInt8(1),
    flags: payload.readUInt8(2),
    scope: payload.readUInt8(3),
    index: payload.readUInt32LE(4),
    attrs: out,
  };
}

export function parseRt(payload: Buffer): Rt {
  needPayload(payload, SIZEOF.RTMSG, 'rtmsg');
  const out: { -readonly [K in keyof RouteAttributes]: RouteAttributes[K] } = {};
  for (const a of decodeAttributes(payload, SIZEOF.RTMSG, payload.length, 'rtmsg')) {
    switch (a.type) {
      case RTA.DST: out.dst = ipOf(a); break;
      case RTA.SRC: out.src = ipOf(a); break;
      case RTA.GATEWAY: out.gateway = ipOf(a); break;
      case RTA.PREFSRC: out.prefsrc = ipOf(a); break;
      case RTA.OIF: out.oif = read.u32(a, 'RTA_OIF'); break;
      case RTA.IIF: out.iif = read.u32(a, 'RTA_IIF'); break;
      case RTA.PRIORITY: out.priority = read.u32(a, 'RTA_PRIORITY'); break;
      case RTA.TABLE: out.table = read.u32(a, 'RTA_TABLE'); break;
      default: break;
    }
  }
  return {
    family: payload.readUInt8(0),
    dstLength: payload.readUInt8(1),
    srcLength: payload.readUInt8(2),
    tos: payload.readUInt8(3),
    table: payload.readUInt8(4),
    protocol: payload.readUInt8(5),
    scope: payload.readUInt8(6),
    routeType: payload.readUInt8(7),
    flags: payload.readUInt32LE(8),
    attrs: out,
  };
}

export function parseNd(payload: Buffer): Nd {
  needPayload(payload, SIZEOF.NDMSG, 'ndmsg');
  const out: { -readonly [K in keyof NeighAttributes]: NeighAttributes[K] } = {};
  for (const a of decodeAttributes(payload, SIZEOF.NDMSG, payload.length, 'ndmsg')) {
    switch (a.type) {
      case NDA.DST: out.dst = ipOf(a); break;
      case NDA.LLADDR: out.lladdr = bytesToMac(a.data); break;
      case NDA.PROBES: out.probes = read.u32(a, 'NDA_PROBES'); break;
      default: break;
    }
  }
  return {
    family: payload.readUInt8(0),
    index: payload.readInt32LE(4),
    state: payload.readUInt16LE(8),
    flags: payload.readUInt8(10),
    ndType: payload.readUInt8(11),
    attrs: out,
  };
}
