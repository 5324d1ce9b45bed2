// Pure request encoders: a Request plus sequence number and port id -> the bytes to send. Attribute
// order follows iproute2 (6.1), so output can be compared byte for byte with captured `ip` requests.
import { ipToBytes, macToBytes } from './addresses.js';
import { type Attribute, attr, attributesLength, encodeAttributes, writeAttributes } from './attributes.js';
import { AF, IFLA, IFLA_INET6, IFLA_INFO, NLMSG_HDRLEN, NLM_F, NDA, IFA, RTA, SIZEOF, VETH_INFO_PEER } from './constants.js';
import type {
  AddrAttributes, Expect, IfAddr, IfInfo, LinkAttributes, LinkInfo, Nd, NeighAttributes, Request, RequestBody, RouteAttributes, Rt,
} from './messages.js';

const ip = (type: number, text: string, field: string): Attribute => attr.bytes(type, ipToBytes(text, field).bytes);

export function linkAttributes(a: LinkAttributes): Attribute[] {
  const out: Attribute[] = [];
  if (a.netnsFd !== undefined) out.push(attr.u32(IFLA.NET_NS_FD, a.netnsFd));
  if (a.netnsPid !== undefined) out.push(attr.u32(IFLA.NET_NS_PID, a.netnsPid));
  if (a.address !== undefined) out.push(attr.bytes(IFLA.ADDRESS, macToBytes(a.address, 'address')));
  if (a.broadcast !== undefined) out.push(attr.bytes(IFLA.BROADCAST, macToBytes(a.broadcast, 'broadcast')));
  if (a.mtu !== undefined) out.push(attr.u32(IFLA.MTU, a.mtu));
  if (a.txqlen !== undefined) out.push(attr.u32(IFLA.TXQLEN, a.txqlen));
  if (a.link !== undefined) out.push(attr.u32(IFLA.LINK, a.link));
  if (a.master !== undefined) out.push(attr.u32(IFLA.MASTER, a.master));
  if (a.operstate !== undefined) out.push(attr.u8(IFLA.OPERSTATE, a.operstate));
  if (a.carrier !== undefined) out.push(attr.u8(IFLA.CARRIER, a.carrier));
  if (a.alias !== undefined) out.push(attr.text(IFLA.IFALIAS, a.alias));
  if (a.linkNetnsId !== undefined) out.push(attr.s32(IFLA.LINK_NETNSID, a.linkNetnsId));
  if (a.addrGenMode !== undefined) {
    out.push(attr.nested(IFLA.AF_SPEC, [attr.nested(AF.INET6, [attr.u8(IFLA_INET6.ADDR_GEN_MODE, a.addrGenMode)])]));
  }
  if (a.extMask !== undefined) out.push(attr.u32(IFLA.EXT_MASK, a.extMask));
  if (a.altName !== undefined) out.push(attr.string(IFLA.ALT_IFNAME, a.altName));
  // iproute2 adds the name last, then IFLA_LINKINFO.
  if (a.ifname !== undefined) out.push(attr.string(IFLA.IFNAME, a.ifname));
  if (a.linkInfo !== undefined) out.push(linkInfoAttribute(a.linkInfo));
  return out;
}

function linkInfoAttribute(info: LinkInfo): Attribute {
  const children: Attribute[] = [];
  if (info.kind !== undefined) children.push(attr.text(IFLA_INFO.KIND, info.kind));
  if (info.peer !== undefined) children.push(attr.nested(IFLA_INFO.DATA, [attr.bytes(VETH_INFO_PEER, ifInfoBytes(info.peer))]));
  else if (info.data !== undefined) children.push(attr.bytes(IFLA_INFO.DATA, info.data));
  if (info.slaveKind !== undefined) children.push(attr.text(IFLA_INFO.SLAVE_KIND, info.slaveKind));
  return attr.nested(IFLA.LINKINFO, children);
}

/** struct ifinfomsg then attributes (also the payload of VETH_INFO_PEER). */
export function ifInfoBytes(m: Partial<IfInfo>): Buffer {
  const attrs = linkAttributes(m.attrs ?? {});
  const buf = Buffer.alloc(SIZEOF.IFINFOMSG + attributesLength(attrs));
  buf.writeUInt8(m.family ?? AF.UNSPEC, 0);
  buf.writeUInt16LE(m.deviceType ?? 0, 2);
  buf.writeInt32LE(m.index ?? 0, 4);
  buf.writeUInt32LE((m.flags ?? 0) >>> 0, 8);
  buf.writeUInt32LE((m.change ?? 0) >>> 0, 12);
  writeAttributes(buf, SIZEOF.IFINFOMSG, attrs);
  return buf;
}

export function addrAttributes(a: AddrAttributes): Attribute[] {
  const out: Attribute[] = [];
  if (a.local !== undefined) out.push(ip(IFA.LOCAL, a.local, 'local'));
  if (a.address !== undefined) out.push(ip(IFA.ADDRESS, a.address, 'address'));
  if (a.broadcast !== undefined) out.push(ip(IFA.BROADCAST, a.broadcast, 'broadcast'));
  if (a.label !== undefined) out.push(attr.string(IFA.LABEL, a.label));
  if (a.flags !== undefined) out.push(attr.u32(IFA.FLAGS, a.flags));
  return out;
}

export function ifAddrBytes(m: Partial<IfAddr>): Buffer {
  const attrs = encodeAttributes(addrAttributes(m.attrs ?? {}));
  const buf = Buffer.alloc(SIZEOF.IFADDRMSG);
  buf.writeUInt8(m.family ?? AF.UNSPEC, 0);
  buf.writeUInt8(m.prefixLength ?? 0, 1);
  buf.writeUInt8(m.flags ?? 0, 2);
  buf.writeUInt8(m.scope ?? 0, 3);
  buf.writeUInt32LE(m.index ?? 0, 4);
  return Buffer.concat([buf, attrs]);
}

export function routeAttributes(a: RouteAttributes): Attribute[] {
  const out: Attribute[] = [];
  if (a.dst !== undefined) out.push(ip(RTA.DST, a.dst, 'dst'));
  if (a.src !== undefined) out.push(ip(RTA.SRC, a.src, 'src'));
  if (a.prefsrc !== undefined) out.push(ip(RTA.PREFSRC, a.prefsrc, 'prefsrc'));
  if (a.gateway !== undefined) out.push(ip(RTA.GATEWAY, a.gateway, 'gateway'));
  if (a.oif !== undefined) out.push(attr.u32(RTA.OIF, a.oif));
  if (a.iif !== undefined) out.push(attr.u32(RTA.IIF, a.iif));
  if (a.priority !== undefined) out.push(attr.u32(RTA.PRIORITY, a.priority));
  if (a.table !== undefined) out.push(attr.u32(RTA.TABLE, a.table));
  return out;
}

export function rtBytes(m: Partial<Rt>): Buffer {
  const attrs = encodeAttributes(routeAttributes(m.attrs ?? {}));
  const buf = Buffer.alloc(SIZEOF.RTMSG);
  buf.writeUInt8(m.family ?? AF.UNSPEC, 0);
  buf.writeUInt8(m.dstLength ?? 0, 1);
  buf.writeUInt8(m.srcLength ?? 0, 2);
  buf.writeUInt8(m.tos ?? 0, 3);
  buf.writeUInt8(m.table ?? 0, 4);
  buf.writeUInt8(m.protocol ?? 0, 5);
  buf.writeUInt8(m.scope ?? 0, 6);
  buf.writeUInt8(m.routeType ?? 0, 7);
  buf.writeUInt32LE((m.flags ?? 0) >>> 0, 8);
  return Buffer.concat([buf, attrs]);
}

export function neighAttributes(a: NeighAttributes): Attribute[] {
  const out: Attribute[] = [];
  if (a.dst !== undefined) out.push(ip(NDA.DST, a.dst, 'dst'));
  if (a.lladdr !== undefined) out.push(attr.bytes(NDA.LLADDR, macToBytes(a.lladdr, 'lladdr')));
  if (a.probes !== undefined) out.push(attr.u32(NDA.PROBES, a.probes));
  return out;
}

export function ndBytes(m: Partial<Nd>): Buffer {
  const attrs = encodeAttributes(neighAttributes(m.attrs ?? {}));
  const buf = Buffer.alloc(SIZEOF.NDMSG);
  buf.writeUInt8(m.family ?? AF.UNSPEC, 0);
  buf.writeInt32LE(m.index ?? 0, 4);
  buf.writeUInt16LE(m.state ?? 0, 8);
  buf.writeUInt8(m.flags ?? 0, 10);
  buf.writeUInt8(m.ndType ?? 0, 11);
  return Buffer.concat([buf, attrs]);
}

function bodyBytes(body: RequestBody): Uint8Array {
  switch (body.kind) {
    case 'link':
      return ifInfoBytes(body);
    case 'addr':
      return ifAddrBytes(body);
    case 'route':
      return rtBytes(body);
    case 'neigh':
      return ndBytes(body);
    case 'raw':
      return body.payload;
  }
}

/** One netlink message: header (length, type, REQUEST|flags, seq, pid) then the body, padded to 4. */
export function serializeRequest(req: Request, seq: number, pid: number): Buffer {
  const body = bodyBytes(req.body);
  const length = NLMSG_HDRLEN + body.length;
  const buf = Buffer.alloc((length + 3) & ~3);
  buf.writeUInt32LE(length, 0);
  buf.writeUInt16LE(req.type, 4);
  buf.writeUInt16LE(NLM_F.REQUEST | (req.flags ?? 0), 6);
  buf.writeUInt32LE(seq >>> 0, 8);
  buf.writeUInt32LE(pid >>> 0, 12);
  buf.set(body, NLMSG_HDRLEN);
  return buf;
}

/** The flags an expectation adds: ACK for 'ack' and 'reply', DUMP for 'dump'. */
export function expectFlags(expect: Expect): number {
  return expect === 'dump' ? NLM_F.DUMP : NLM_F.ACK;
}

/** Builds the request as the socket sends it for `expect` (shared with NetlinkBatch so both agree). */
export function serializeFor(req: Request, expect: Expect, seq: number, pid: number): Buffer {
  return serializeRequest({ ...req, flags: (req.flags ?? 0) | expectFlags(expect) }, seq, pid);
}
