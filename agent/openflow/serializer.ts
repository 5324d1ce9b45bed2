// Pure encoders: a message and its xid -> the bytes on the wire. No I/O; the xid is an argument so
// the output is deterministic and compared byte for byte with what ovs-ofctl sends.
import {
  OFPBCT, OFPET, OFPFC, OFPG_ANY, OFPHET_VERSIONBITMAP, OFPP, OFPT, OFPTT_ALL, OFP_HEADER_LEN, OFP_MAX_MESSAGE_LEN, OFP_NO_BUFFER, OFP_VERSION, ONFT, ONF_EXPERIMENTER_ID,
} from './constants.js';
import { OpenFlowEncodeError } from './errors.js';
import { encodeInstructions } from './actions.js';
import { encodeMatch } from './match.js';
import type { BundleControlType, FlowMod, FlowModCommand, Message } from './messages.js';

const COMMANDS: Record<FlowModCommand, number> = {
  add: OFPFC.ADD,
  modify: OFPFC.MODIFY,
  modify_strict: OFPFC.MODIFY_STRICT,
  delete: OFPFC.DELETE,
  delete_strict: OFPFC.DELETE_STRICT,
};

function header(version: number, type: number, bodyLength: number, xid: number, path: string): Buffer {
  if (!Number.isInteger(xid) || xid < 0 || xid > 0xffffffff) throw new OpenFlowEncodeError(`${path}.xid`, `must be a u32, got ${xid}`);
  const length = OFP_HEADER_LEN + bodyLength;
  if (length > OFP_MAX_MESSAGE_LEN) throw new OpenFlowEncodeError(path, `${length} bytes: longer than an OpenFlow message can be (65535)`);
  const b = Buffer.alloc(OFP_HEADER_LEN);
  b.writeUInt8(version, 0);
  b.writeUInt8(type, 1);
  b.writeUInt16BE(length, 2);
  b.writeUInt32BE(xid, 4);
  return b;
}

function uint(value: number | undefined, fallback: number, max: number, path: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 0 || v > max) throw new OpenFlowEncodeError(path, `must be an integer 0..${max}, got ${v}`);
  return v;
}

function u64(value: bigint, path: string): bigint {
  if (typeof value !== 'bigint' || value < 0n || value > 0xffffffffffffffffn) throw new OpenFlowEncodeError(path, `must be a bigint 0..2^64-1, got ${String(value)}`);
  return value;
}

/** The flow_mod's body (after the header); `path` prefixes field names in errors. */
function flowModBody(mod: FlowMod, path: string): Buffer {
  const { flow } = mod;
  const command = COMMANDS[mod.command];
  if (command === undefined) throw new OpenFlowEncodeError(`${path}.command`, `unknown command ${String(mod.command)}`);
  const isDelete = command === OFPFC.DELETE || command === OFPFC.DELETE_STRICT;
  const fixed = Buffer.alloc(40);
  fixed.writeBigUInt64BE(u64(flow.cookie, `${path}.flow.cookie`), 0);
  fixed.writeBigUInt64BE(u64(mod.cookieMask ?? 0n, `${path}.cookieMask`), 8);
  fixed.writeUInt8(uint(flow.table, 0, isDelete ? OFPTT_ALL : OFPTT_ALL - 1, `${path}.flow.table`), 16);
  fixed.writeUInt8(command, 17);
  fixed.writeUInt16BE(uint(mod.idleTimeout, 0, 0xffff, `${path}.idleTimeout`), 18);
  fixed.writeUInt16BE(uint(mod.hardTimeout, 0, 0xffff, `${path}.hardTimeout`), 20);
  fixed.writeUInt16BE(uint(flow.priority, 0, 0xffff, `${path}.flow.priority`), 22);
  fixed.writeUInt32BE(uint(mod.bufferId, OFP_NO_BUFFER, 0xffffffff, `${path}.bufferId`), 24);
  fixed.writeUInt32BE(uint(mod.outPort, OFPP.ANY, 0xffffffff, `${path}.outPort`), 28);
  fixed.writeUInt32BE(uint(mod.outGroup, OFPG_ANY, 0xffffffff, `${path}.outGroup`), 32);
  fixed.writeUInt16BE(uint(mod.flags, 0, 0xffff, `${path}.flags`), 36);
  const match = encodeMatch(flow.match, `${path}.flow.match`);
  // A delete ignores instructions; like ovs-ofctl, send none (the same Flow can add and delete).
  const instructions = isDelete ? Buffer.alloc(0) : encodeInstructions(flow, `${path}.flow`);
  return Buffer.concat([fixed, match, instructions]);
}

/** One OFPT_FLOW_MOD. */
export function serializeFlowMod(mod: FlowMod, xid: number, path = 'flowMod'): Buffer {
  const body = flowModBody(mod, path);
  return Buffer.concat([header(OFP_VERSION, OFPT.FLOW_MOD, body.length, xid, path), body]);
}

export const BUNDLE_CONTROL_TYPES: Record<BundleControlType, number> = {
  open_request: OFPBCT.OPEN_REQUEST,
  open_reply: OFPBCT.OPEN_REPLY,
  close_request: OFPBCT.CLOSE_REQUEST,
  close_reply: OFPBCT.CLOSE_REPLY,
  commit_request: OFPBCT.COMMIT_REQUEST,
  commit_reply: OFPBCT.COMMIT_REPLY,
  discard_request: OFPBCT.DISCARD_REQUEST,
  discard_reply: OFPBCT.DISCARD_REPLY,
};

/** The ONF experimenter header's tail (experimenter id, exp_type) and the bundle id and flags. */
function bundleHead(expType: number, bundleId: number, second: number, flags: number, path: string): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(ONF_EXPERIMENTER_ID, 0);
  b.writeUInt32BE(expType, 4);
  b.writeUInt32BE(uint(bundleId, 0, 0xffffffff, `${path}.bundleId`), 8);
  b.writeUInt16BE(second, 12);
  b.writeUInt16BE(uint(flags, 0, 0xffff, `${path}.flags`), 14);
  return b;
}

/** ONF bundle control (exp_type 2300). */
export function serializeBundleControl(bundleId: number, controlType: BundleControlType, flags: number, xid: number, properties: Buffer = Buffer.alloc(0)): Buffer {
  const type = BUNDLE_CONTROL_TYPES[controlType];
  if (type === undefined) throw new OpenFlowEncodeError('bundle_control.controlType', `unknown type ${String(controlType)}`);
  const body = Buffer.concat([bundleHead(ONFT.BUNDLE_CONTROL, bundleId, type, flags, 'bundle_control'), properties]);
  return Buffer.concat([header(OFP_VERSION, OFPT.EXPERIMENTER, body.length, xid, 'bundle_control'), body]);
}

/** ONF bundle add (exp_type 2301) around `inner`, a whole message; it goes out with the inner message's xid. */
export function serializeBundleAdd(bundleId: number, flags: number, inner: Buffer, path = 'bundle_add'): Buffer {
  const body = Buffer.concat([bundleHead(ONFT.BUNDLE_ADD_MESSAGE, bundleId, 0, flags, path), inner]);
  return Buffer.concat([header(OFP_VERSION, OFPT.EXPERIMENTER, body.length, inner.readUInt32BE(4), path), body]);
}

/** Any message this codec speaks; HELLO goes out with the highest version it lists. */
export function serialize(message: Message, xid: number): Buffer {
  switch (message.type) {
    case 'hello': {
      if (message.versions.some((v) => !Number.isInteger(v) || v < 1 || v > 31)) {
        throw new OpenFlowEncodeError('hello.versions', `versions must be 1..31, got ${message.versions.join(',')}`);
      }
      if (message.versions.length === 0) return header(OFP_VERSION, OFPT.HELLO, 0, xid, 'hello');
      const elem = Buffer.alloc(8);
      elem.writeUInt16BE(OFPHET_VERSIONBITMAP, 0);
      elem.writeUInt16BE(8, 2);
      elem.writeUInt32BE(message.versions.reduce((bits, v) => (bits | (1 << v)) >>> 0, 0), 4);
      return Buffer.concat([header(Math.max(...message.versions), OFPT.HELLO, elem.length, xid, 'hello'), elem]);
    }
    case 'error': {
      const experimenter = message.errorType === OFPET.EXPERIMENTER;
      const fixed = Buffer.alloc(experimenter ? 8 : 4);
      fixed.writeUInt16BE(uint(message.errorType, 0, 0xffff, 'error.errorType'), 0);
      fixed.writeUInt16BE(uint(message.errorCode, 0, 0xffff, 'error.errorCode'), 2);
      if (experimenter) fixed.writeUInt32BE(uint(message.experimenter, 0, 0xffffffff, 'error.experimenter'), 4);
      return Buffer.concat([header(OFP_VERSION, OFPT.ERROR, fixed.length + message.data.length, xid, 'error'), fixed, message.data]);
    }
    case 'echo_request':
    case 'echo_reply': {
      const type = message.type === 'echo_request' ? OFPT.ECHO_REQUEST : OFPT.ECHO_REPLY;
      return Buffer.concat([header(OFP_VERSION, type, message.data.length, xid, message.type), message.data]);
    }
    case 'barrier_request':
      return header(OFP_VERSION, OFPT.BARRIER_REQUEST, 0, xid, 'barrier_request');
    case 'barrier_reply':
      return header(OFP_VERSION, OFPT.BARRIER_REPLY, 0, xid, 'barrier_reply');
    case 'flow_mod':
      return serializeFlowMod(message.mod, xid);
    case 'bundle_control':
      return serializeBundleControl(message.bundleId, message.controlType, message.flags, xid, message.properties);
    case 'bundle_add':
      return serializeBundleAdd(message.bundleId, message.flags, serialize(message.message, xid));
    case 'raw':
      return Buffer.concat([header(OFP_VERSION, uint(message.msgType, 0, 0xff, 'raw.msgType'), message.body.length, xid, 'raw'), message.body]);
  }
}
