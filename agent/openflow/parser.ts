// Pure decoders. OpenFlowParser is the streaming one: it keeps the unconsumed tail of the byte
// stream and emits each whole message as the 8-byte header's length says; a message split across
// reads waits for the rest. Unknown types come out raw, as do known ones whose body does not decode
// (with the reason); only a header that breaks framing (length < 8) throws.
import { decodeInstructions } from './actions.js';
import {
  OFPBCT, OFPET, OFPFC, OFPG_ANY, OFPHET_VERSIONBITMAP, OFPP, OFPT, OFP_HEADER_LEN, OFP_NO_BUFFER, OFP_VERSION, ONFT, ONF_EXPERIMENTER_ID, errorNames,
  messageTypeName,
} from './constants.js';
import { OpenFlowDecodeError } from './errors.js';
import { pad8 } from './fields.js';
import { decodeMatch } from './match.js';
import type { BundleControlType, Flow, FlowMod, FlowModCommand, OfHeader, ParsedMessage } from './messages.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export function parseHeader(buf: Buffer, off = 0): OfHeader {
  return { version: buf.readUInt8(off), type: buf.readUInt8(off + 1), length: buf.readUInt16BE(off + 2), xid: buf.readUInt32BE(off + 4) };
}

const COMMANDS: Record<number, FlowModCommand> = {
  [OFPFC.ADD]: 'add',
  [OFPFC.MODIFY]: 'modify',
  [OFPFC.MODIFY_STRICT]: 'modify_strict',
  [OFPFC.DELETE]: 'delete',
  [OFPFC.DELETE_STRICT]: 'delete_strict',
};

/** Version bitmap of a HELLO body: the versions whose bits are set. Other elements are skipped. */
function helloVersions(body: Buffer): number[] {
  const versions: number[] = [];
  let p = 0;
  while (body.length - p >= 4) {
    const type = body.readUInt16BE(p);
    const len = body.readUInt16BE(p + 2);
    if (len < 4 || p + len > body.length) throw new OpenFlowDecodeError(`hello element type ${type}: bad length ${len}`, OFP_HEADER_LEN + p);
    if (type === OFPHET_VERSIONBITMAP) {
      for (let i = 0; 4 + i * 4 + 4 <= len; i++) {
        const bits = body.readUInt32BE(p + 4 + i * 4);
        for (let b = 0; b < 32; b++) if (bits & (1 << b)) versions.push(i * 32 + b);
      }
    }
    p += pad8(len);
  }
  return versions;
}

/** OFPT_FLOW_MOD's body (after the header) as a FlowMod. */
export function decodeFlowMod(body: Buffer): FlowMod {
  if (body.length < 40 + 8) throw new OpenFlowDecodeError(`OFPT_FLOW_MOD: body of ${body.length} bytes, need 48`, OFP_HEADER_LEN);
  const command = COMMANDS[body.readUInt8(17)];
  if (command === undefined) throw new OpenFlowDecodeError(`OFPT_FLOW_MOD: unknown command ${body.readUInt8(17)}`, OFP_HEADER_LEN + 17);
  const { match, size } = decodeMatch(body, 40);
  const { actions, gotoTable } = decodeInstructions(body, 40 + size, body.length);
  const flow: Mutable<Flow> = { table: body.readUInt8(16), priority: body.readUInt16BE(22), cookie: body.readBigUInt64BE(0), match };
  if (actions !== undefined) flow.actions = actions;
  if (gotoTable !== undefined) flow.gotoTable = gotoTable;
  const mod: Mutable<FlowMod> = { command, flow };
  const cookieMask = body.readBigUInt64BE(8);
  if (cookieMask !== 0n) mod.cookieMask = cookieMask;
  // Fields at their defaults are left out, so a decoded mod equals the one that was encoded.
  const unlessDefault = (k: 'idleTimeout' | 'hardTimeout' | 'bufferId' | 'outPort' | 'outGroup' | 'flags', v: number, fallback: number): void => {
    if (v !== fallback) mod[k] = v;
  };
  unlessDefault('idleTimeout', body.readUInt16BE(18), 0);
  unlessDefault('hardTimeout', body.readUInt16BE(20), 0);
  unlessDefault('bufferId', body.readUInt32BE(24), OFP_NO_BUFFER);
  unlessDefault('outPort', body.readUInt32BE(28), OFPP.ANY);
  unlessDefault('outGroup', body.readUInt32BE(32), OFPG_ANY);
  unlessDefault('flags', body.readUInt16BE(36), 0);
  return mod;
}

/** One whole message (`buf` holds exactly it). Never throws for a body it cannot decode. */
export function parseMessage(buf: Buffer): ParsedMessage {
  const header = parseHeader(buf);
  const body = buf.subarray(OFP_HEADER_LEN, header.length);
  try {
    // HELLO and ERROR keep their layout in every version (a peer refusing ours answers in its own).
    switch (header.type) {
      case OFPT.HELLO:
        return { type: 'hello', header, versions: helloVersions(body) };
      case OFPT.ERROR:
        return parseError(header, body);
    }
    if (header.version === OFP_VERSION) {
      switch (header.type) {
        case OFPT.ECHO_REQUEST:
          return { type: 'echo_request', header, data: body };
        case OFPT.ECHO_REPLY:
          return { type: 'echo_reply', header, data: body };
        case OFPT.BARRIER_REQUEST:
          return { type: 'barrier_request', header };
        case OFPT.BARRIER_REPLY:
          return { type: 'barrier_reply', header };
        case OFPT.FLOW_MOD:
          return { type: 'flow_mod', header, mod: decodeFlowMod(body) };
        case OFPT.EXPERIMENTER: {
          const bundle = parseBundle(header, body);
          if (bundle) return bundle;
        }
      }
    }
    return { type: 'raw', header, msgType: header.type, body };
  } catch (e) {
    if (!(e instanceof OpenFlowDecodeError) && !(e instanceof RangeError)) throw e;
    const decodeError = new OpenFlowDecodeError(`${messageTypeName(header.type)} xid ${header.xid}: ${e.message}`, e instanceof OpenFlowDecodeError ? e.offset : undefined);
    return { type: 'raw', header, msgType: header.type, body, decodeError };
  }
}

const BUNDLE_CONTROL_TYPES = new Map<number, BundleControlType>(
  Object.entries(OFPBCT).map(([k, v]) => [v, k.toLowerCase() as BundleControlType]),
);

/** ONF bundle control and add messages; undefined for any other experimenter message. */
function parseBundle(header: OfHeader, body: Buffer): ParsedMessage | undefined {
  if (body.length < 8 || body.readUInt32BE(0) !== ONF_EXPERIMENTER_ID) return undefined;
  const expType = body.readUInt32BE(4);
  if (expType !== ONFT.BUNDLE_CONTROL && expType !== ONFT.BUNDLE_ADD_MESSAGE) return undefined;
  if (body.length < 16) throw new OpenFlowDecodeError(`ONF bundle message: body of ${body.length} bytes, need 16`, OFP_HEADER_LEN);
  const bundleId = body.readUInt32BE(8);
  const flags = body.readUInt16BE(14);
  if (expType === ONFT.BUNDLE_CONTROL) {
    const controlType = BUNDLE_CONTROL_TYPES.get(body.readUInt16BE(12));
    if (controlType === undefined) throw new OpenFlowDecodeError(`ONF bundle control: unknown type ${body.readUInt16BE(12)}`, OFP_HEADER_LEN + 12);
    const properties = body.subarray(16);
    return { type: 'bundle_control', header, bundleId, controlType, flags, ...(properties.length ? { properties } : {}) };
  }
  const inner = body.subarray(16);
  const innerLength = inner.length >= OFP_HEADER_LEN ? inner.readUInt16BE(2) : 0;
  if (innerLength < OFP_HEADER_LEN || innerLength > inner.length) {
    throw new OpenFlowDecodeError(`ONF bundle add: inner message of ${innerLength} bytes in ${inner.length}`, OFP_HEADER_LEN + 16);
  }
  // Properties may follow the inner message; none are used.
  return { type: 'bundle_add', header, bundleId, flags, message: parseMessage(inner.subarray(0, innerLength)) };
}

function parseError(header: OfHeader, body: Buffer): ParsedMessage {
  if (body.length < 4) throw new OpenFlowDecodeError(`OFPT_ERROR: body of ${body.length} bytes, need 4`, OFP_HEADER_LEN);
  const errorType = body.readUInt16BE(0);
  const errorCode = body.readUInt16BE(2);
  let experimenter: number | undefined;
  let data = body.subarray(4);
  if (errorType === OFPET.EXPERIMENTER) {
    if (body.length < 8) throw new OpenFlowDecodeError('OFPT_ERROR (experimenter): no experimenter id', OFP_HEADER_LEN + 4);
    experimenter = body.readUInt32BE(4);
    data = body.subarray(8);
  }
  // The data starts with the refused request (at least its first 64 bytes): its header names it.
  const failedRequest = data.length >= OFP_HEADER_LEN ? parseHeader(data) : undefined;
  return {
    type: 'error', header, errorType, errorCode, ...(experimenter === undefined ? {} : { experimenter }), data,
    ...errorNames(errorType, errorCode, experimenter), failedRequest,
  };
}

/**
 * A byte stream -> whole messages. `push` returns the messages completed by a chunk (their data
 * may view the chunk); the tail of an unfinished one is kept as a copy.
 */
export class OpenFlowParser {
  private tail: Buffer = Buffer.alloc(0);

  /** Bytes received but not yet part of a whole message. */
  get pending(): number {
    return this.tail.length;
  }

  push(chunk: Buffer): ParsedMessage[] {
    // The tail is at most one unfinished message (< 64 KiB), so joining it costs little.
    const buf = this.tail.length ? Buffer.concat([this.tail, chunk]) : chunk;
    const out: ParsedMessage[] = [];
    let off = 0;
    while (buf.length - off >= OFP_HEADER_LEN) {
      const length = buf.readUInt16BE(off + 2);
      if (length < OFP_HEADER_LEN) {
        this.tail = Buffer.alloc(0);
        throw new OpenFlowDecodeError(`message at stream byte ${off} claims ${length} bytes (less than its header): framing lost`, off);
      }
      if (buf.length - off < length) break;
      out.push(parseMessage(buf.subarray(off, off + length)));
      off += length;
    }
    this.tail = Buffer.from(buf.subarray(off));
    return out;
  }
}
