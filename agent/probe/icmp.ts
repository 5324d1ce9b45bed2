// ICMP echo codec (RFC 792), pure: builds requests, parses replies as a raw IPv4 socket gives them.

export const ICMP_ECHO_REPLY = 0;
export const ICMP_ECHO_REQUEST = 8;

/** The Internet checksum (RFC 1071) over `buf`. */
export function internetChecksum(buf: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (buf.length % 2 === 1) sum += buf[buf.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An echo request: type 8, code 0, checksum, identifier, sequence, then `payload`. */
export function encodeEchoRequest(identifier: number, sequence: number, payload: Uint8Array): Buffer {
  const buf = Buffer.alloc(8 + payload.length);
  buf[0] = ICMP_ECHO_REQUEST;
  buf.writeUInt16BE(identifier & 0xffff, 4);
  buf.writeUInt16BE(sequence & 0xffff, 6);
  buf.set(payload, 8);
  buf.writeUInt16BE(internetChecksum(buf), 2);
  return buf;
}

export interface EchoReply {
  readonly source: string;
  readonly identifier: number;
  readonly sequence: number;
  readonly payload: Buffer;
}

/** Parses an IPv4 datagram carrying an ICMP echo reply; undefined for anything else. */
export function decodeEchoReply(datagram: Buffer): EchoReply | undefined {
  if (datagram.length < 20 || datagram[0]! >> 4 !== 4) return undefined;
  const ihl = (datagram[0]! & 0x0f) * 4;
  if (datagram[9] !== 1 || datagram.length < ihl + 8) return undefined;
  const icmp = datagram.subarray(ihl);
  if (icmp[0] !== ICMP_ECHO_REPLY || icmp[1] !== 0) return undefined;
  if (internetChecksum(icmp) !== 0) return undefined;
  return {
    source: `${datagram[12]}.${datagram[13]}.${datagram[14]}.${datagram[15]}`,
    identifier: icmp.readUInt16BE(4),
    sequence: icmp.readUInt16BE(6),
    payload: icmp.subarray(8),
  };
}
