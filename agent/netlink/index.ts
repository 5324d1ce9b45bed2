// rtnetlink: a pure codec (constants, attributes, messages, serializer, parser), typed errors, a
// pipelined socket, and a recorder that returns the bytes instead of sending them.
export * from './constants.js';
export { type Attribute, type RawAttribute, align4, attr, attributesLength, decodeAttributes, encodeAttributes, read, writeAttributes } from './attributes.js';
export { type IpBytes, bytesToIp, bytesToMac, ipToBytes, isMac, macToBytes } from './addresses.js';
export type * from './messages.js';
export {
  addrAttributes, expectFlags, ifAddrBytes, ifInfoBytes, linkAttributes, ndBytes, neighAttributes, routeAttributes, rtBytes,
  serializeFor, serializeRequest,
} from './serializer.js';
export { type ParsedDatagram, parseDatagram, parseHeader, parseIfAddr, parseIfInfo, parseMessage, parseMessages, parseNd, parseRt } from './parser.js';
export {
  ERRNO, NetlinkDecodeError, NetlinkError, type NetlinkErrorInit, NetlinkSocketError, type NetlinkSocketFailure, errnoName, isExists, isNotFound,
} from './errors.js';
export {
  type NetlinkRequester, NetlinkSocket, type NetlinkSocketOptions, type NetlinkSocketStats, type NetlinkTransport, type RequestBuilder,
  type RequestOptions, type TransportOpener,
} from './socket.js';
export { NetlinkBatch, type RecordedRequest } from './batch.js';
