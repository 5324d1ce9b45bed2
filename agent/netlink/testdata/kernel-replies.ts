// Builders for what the kernel would answer, for socket tests without a kernel. Shapes follow the
// captured replies (testdata/captured.ts) with NETLINK_CAP_ACK set, as NetlinkSocket sets it.
import { NLMSGERR_ATTR, NLMSG, NLMSG_HDRLEN, NLM_F } from '../constants.js';

function header(len: number, type: number, flags: number, seq: number, pid: number): Buffer {
  const b = Buffer.alloc(NLMSG_HDRLEN);
  b.writeUInt32LE(len, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(flags, 6);
  b.writeUInt32LE(seq, 8);
  b.writeUInt32LE(pid, 12);
  return b;
}

function stringTlv(type: number, text: string): Buffer {
  const data = Buffer.from(`${text}\0`);
  const b = Buffer.alloc((4 + data.length + 3) & ~3);
  b.writeUInt16LE(4 + data.length, 0);
  b.writeUInt16LE(type, 2);
  data.copy(b, 4);
  return b;
}

/** NLMSG_ERROR for `request` (its first 16 bytes are echoed); errno 0 is an ACK. */
export function errorReply(request: Buffer, errno: number, extack?: string, pid = 1234): Buffer {
  const seq = request.readUInt32LE(8);
  const tlvs = extack === undefined ? Buffer.alloc(0) : stringTlv(NLMSGERR_ATTR.MSG, extack);
  const flags = NLM_F.CAPPED | (extack === undefined ? 0 : NLM_F.ACK_TLVS);
  const body = Buffer.alloc(4);
  body.writeInt32LE(-errno, 0);
  const len = NLMSG_HDRLEN + 4 + NLMSG_HDRLEN + tlvs.length;
  return Buffer.concat([header(len, NLMSG.ERROR, flags, seq, pid), body, request.subarray(0, NLMSG_HDRLEN), tlvs]);
}

export function doneReply(seq: number, errno = 0, flags: number = NLM_F.MULTI, pid = 1234): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(-errno, 0);
  return Buffer.concat([header(NLMSG_HDRLEN + 4, NLMSG.DONE, flags, seq, pid), b]);
}

/** Copies a datagram with every message's sequence number replaced (and extra flags or'ed in). */
export function reseq(datagram: Buffer, seq: number, extraFlags = 0): Buffer {
  const out = Buffer.from(datagram);
  let off = 0;
  while (off + NLMSG_HDRLEN <= out.length) {
    const len = out.readUInt32LE(off);
    out.writeUInt32LE(seq, off + 8);
    out.writeUInt16LE(out.readUInt16LE(off + 6) | extraFlags, off + 6);
    off += (len + 3) & ~3;
  }
  return out;
}

/** Offsets where a message starts or the datagram ends. */
export function messageBoundaries(datagram: Buffer): Set<number> {
  const out = new Set<number>([0]);
  let off = 0;
  while (off + NLMSG_HDRLEN <= datagram.length) {
    off += (datagram.readUInt32LE(off) + 3) & ~3;
    out.add(Math.min(off, datagram.length));
  }
  return out;
}
