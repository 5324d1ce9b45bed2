// Actions and instructions: a Flow's actions become one APPLY_ACTIONS instruction, its gotoTable a
// GOTO_TABLE after it (the order Open vSwitch emits); no actions and no gotoTable is no instruction,
// which is a drop. `move` is Nicira's NXAST_REG_MOVE of a whole field.
import { NXAST_REG_MOVE, NX_VENDOR_ID, OFPAT, OFPIT, OFPP } from './constants.js';
import { OpenFlowDecodeError, OpenFlowEncodeError } from './errors.js';
import { FIELDS, decodeValue, encodeValue, fieldByMoveHeader, fieldBySetHeader, oxmLength, pad8 } from './fields.js';
import type { Action, Field, Flow } from './messages.js';

/** ofp_action_output's max_len: the whole packet to the controller, nothing else buffers. */
const OFPCML_NO_BUFFER = 0xffff;

function fieldSpec(field: Field, path: string): (typeof FIELDS)[Field] {
  const f = FIELDS[field];
  if (!f) throw new OpenFlowEncodeError(path, `unknown field ${String(field)}`);
  return f;
}

function u32(value: number, path: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new OpenFlowEncodeError(path, `must be a u32, got ${value}`);
  return value;
}

function encodeAction(a: Action, path: string): Buffer {
  switch (a.type) {
    case 'output': {
      const b = Buffer.alloc(16);
      b.writeUInt16BE(OFPAT.OUTPUT, 0);
      b.writeUInt16BE(16, 2);
      b.writeUInt32BE(u32(a.port, `${path}.port`), 4);
      b.writeUInt16BE(a.port === OFPP.CONTROLLER ? OFPCML_NO_BUFFER : 0, 8);
      return b;
    }
    case 'push_vlan': {
      if (!Number.isInteger(a.ethertype) || a.ethertype < 0 || a.ethertype > 0xffff) throw new OpenFlowEncodeError(`${path}.ethertype`, `must be a u16, got ${a.ethertype}`);
      const b = Buffer.alloc(8);
      b.writeUInt16BE(OFPAT.PUSH_VLAN, 0);
      b.writeUInt16BE(8, 2);
      b.writeUInt16BE(a.ethertype, 4);
      return b;
    }
    case 'pop_vlan': {
      const b = Buffer.alloc(8);
      b.writeUInt16BE(OFPAT.POP_VLAN, 0);
      b.writeUInt16BE(8, 2);
      return b;
    }
    case 'set_field': {
      const f = fieldSpec(a.field, `${path}.field`);
      const value = encodeValue(f.kind, a.value, `${path}.value`);
      const b = Buffer.alloc(pad8(8 + value.length));
      b.writeUInt16BE(OFPAT.SET_FIELD, 0);
      b.writeUInt16BE(b.length, 2);
      b.writeUInt32BE(f.header, 4);
      value.copy(b, 8);
      return b;
    }
    case 'move': {
      const src = fieldSpec(a.src, `${path}.src`);
      const dst = fieldSpec(a.dst, `${path}.dst`);
      if (src.bits !== dst.bits) throw new OpenFlowEncodeError(path, `${a.src} is ${src.bits} bits, ${a.dst} ${dst.bits}: a whole-field move needs equal widths`);
      const b = Buffer.alloc(24);
      b.writeUInt16BE(OFPAT.EXPERIMENTER, 0);
      b.writeUInt16BE(24, 2);
      b.writeUInt32BE(NX_VENDOR_ID, 4);
      b.writeUInt16BE(NXAST_REG_MOVE, 8);
      b.writeUInt16BE(src.bits, 10); // n_bits; src_ofs and dst_ofs stay 0
      b.writeUInt32BE(src.moveHeader, 16);
      b.writeUInt32BE(dst.moveHeader, 20);
      return b;
    }
  }
}

/** The actions, back to back (each is a multiple of 8 bytes long). */
export function encodeActions(actions: readonly Action[], path = 'actions'): Buffer {
  return Buffer.concat(actions.map((a, i) => encodeAction(a, `${path}[${i}]`)));
}

function decodeAction(type: number, body: Buffer, at: number): Action {
  const need = (n: number, what: string): void => {
    if (body.length < n) throw new OpenFlowDecodeError(`${what}: ${body.length + 4} bytes, need ${n + 4}`, at);
  };
  switch (type) {
    case OFPAT.OUTPUT:
      need(12, 'OFPAT_OUTPUT');
      return { type: 'output', port: body.readUInt32BE(0) }; // max_len is not part of the model
    case OFPAT.PUSH_VLAN:
      need(4, 'OFPAT_PUSH_VLAN');
      return { type: 'push_vlan', ethertype: body.readUInt16BE(0) };
    case OFPAT.POP_VLAN:
      return { type: 'pop_vlan' };
    case OFPAT.SET_FIELD: {
      need(4, 'OFPAT_SET_FIELD');
      const header = body.readUInt32BE(0);
      const f = fieldBySetHeader(header);
      if (!f) throw new OpenFlowDecodeError(`OFPAT_SET_FIELD: unsupported field 0x${header.toString(16).padStart(8, '0')}`, at);
      need(4 + oxmLength(header), 'OFPAT_SET_FIELD');
      return { type: 'set_field', field: f.name, value: decodeValue(f.kind, body.subarray(4, 4 + oxmLength(header)), `set_field ${f.name}`) };
    }
    case OFPAT.EXPERIMENTER: {
      need(20, 'OFPAT_EXPERIMENTER');
      const vendor = body.readUInt32BE(0);
      const subtype = body.readUInt16BE(4);
      if (vendor !== NX_VENDOR_ID || subtype !== NXAST_REG_MOVE) {
        throw new OpenFlowDecodeError(`experimenter action 0x${vendor.toString(16)}/${subtype} is not supported`, at);
      }
      const nBits = body.readUInt16BE(6);
      const src = fieldByMoveHeader(body.readUInt32BE(12));
      const dst = fieldByMoveHeader(body.readUInt32BE(16));
      if (!src || !dst) throw new OpenFlowDecodeError('NXAST_REG_MOVE: unsupported field', at);
      if (body.readUInt16BE(8) !== 0 || body.readUInt16BE(10) !== 0 || nBits !== src.bits || nBits !== dst.bits) {
        throw new OpenFlowDecodeError(`NXAST_REG_MOVE: only whole-field moves are supported (${nBits} bits of ${src.name})`, at);
      }
      return { type: 'move', src: src.name, dst: dst.name };
    }
    default:
      throw new OpenFlowDecodeError(`action type ${type} is not supported`, at);
  }
}

/** The actions in buf[off, end). */
export function decodeActions(buf: Buffer, off: number, end: number): Action[] {
  const out: Action[] = [];
  let p = off;
  while (p < end) {
    if (end - p < 4) throw new OpenFlowDecodeError('truncated action header', p);
    const type = buf.readUInt16BE(p);
    const len = buf.readUInt16BE(p + 2);
    if (len < 8 || len % 8 !== 0 || p + len > end) throw new OpenFlowDecodeError(`action type ${type}: bad length ${len}`, p);
    out.push(decodeAction(type, buf.subarray(p + 4, p + len), p));
    p += len;
  }
  return out;
}

/** APPLY_ACTIONS (if any actions) then GOTO_TABLE (if any). */
export function encodeInstructions(flow: Pick<Flow, 'actions' | 'gotoTable'>, path = 'flow'): Buffer {
  const parts: Buffer[] = [];
  if (flow.actions?.length) {
    const actions = encodeActions(flow.actions, `${path}.actions`);
    if (8 + actions.length > 0xffff) throw new OpenFlowEncodeError(`${path}.actions`, `${actions.length} bytes of actions: longer than an OpenFlow message can be (65535)`);
    const head = Buffer.alloc(8);
    head.writeUInt16BE(OFPIT.APPLY_ACTIONS, 0);
    head.writeUInt16BE(8 + actions.length, 2);
    parts.push(head, actions);
  }
  if (flow.gotoTable !== undefined) {
    const t = flow.gotoTable;
    if (!Number.isInteger(t) || t < 0 || t > 254) throw new OpenFlowEncodeError(`${path}.gotoTable`, `must be a table 0..254, got ${t}`);
    const b = Buffer.alloc(8);
    b.writeUInt16BE(OFPIT.GOTO_TABLE, 0);
    b.writeUInt16BE(8, 2);
    b.writeUInt8(t, 4);
    parts.push(b);
  }
  return Buffer.concat(parts);
}

/** The instructions in buf[off, end), as the Flow fields they stand for. */
export function decodeInstructions(buf: Buffer, off: number, end: number): { actions?: Action[]; gotoTable?: number } {
  const out: { actions?: Action[]; gotoTable?: number } = {};
  let p = off;
  while (p < end) {
    if (end - p < 8) throw new OpenFlowDecodeError('truncated instruction', p);
    const type = buf.readUInt16BE(p);
    const len = buf.readUInt16BE(p + 2);
    if (len < 8 || len % 8 !== 0 || p + len > end) throw new OpenFlowDecodeError(`instruction type ${type}: bad length ${len}`, p);
    if (type === OFPIT.APPLY_ACTIONS && out.actions === undefined) out.actions = decodeActions(buf, p + 8, p + len);
    else if (type === OFPIT.GOTO_TABLE && out.gotoTable === undefined) out.gotoTable = buf.readUInt8(p + 4);
    else throw new OpenFlowDecodeError(`instruction type ${type} is not supported (or repeated)`, p);
    p += len;
  }
  return out;
}
