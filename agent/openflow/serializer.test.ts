// The serializer against Open vSwitch's own encoder: every FlowMod in testdata/flow-mods.ts must
// come out byte for byte as ovs-ofctl wrote the same flow (testdata/captured.ts), xid included.
import { describe, expect, it } from 'vitest';
import { OFPP } from './constants.js';
import { OpenFlowEncodeError } from './errors.js';
import type { Action, FlowMod } from './messages.js';
import { parseMessage } from './parser.js';
import { serialize, serializeBundleAdd, serializeBundleControl, serializeFlowMod } from './serializer.js';
import { CAPTURED, CAPTURED_BUNDLES, CAPTURED_HELLO } from './testdata/captured.js';
import { FLOW_MODS } from './testdata/flow-mods.js';

const names = Object.keys(CAPTURED) as Array<keyof typeof CAPTURED>;
const captured = (name: keyof typeof CAPTURED): Buffer => Buffer.from(CAPTURED[name].hex, 'hex');

describe('serializer: bytes equal to ovs-ofctl 3.1', () => {
  it.each(names)('%s', (name) => {
    const want = captured(name);
    const xid = want.readUInt32BE(4);
    expect(serializeFlowMod(FLOW_MODS[name], xid).toString('hex')).toBe(want.toString('hex'));
    expect(serialize({ type: 'flow_mod', mod: FLOW_MODS[name] }, xid).equals(want)).toBe(true);
  });

  it('sends the HELLO ovs-ofctl -O OpenFlow13 sends (a bitmap with 1.3 only)', () => {
    const want = Buffer.from(CAPTURED_HELLO.hex, 'hex');
    expect(serialize({ type: 'hello', versions: [4] }, want.readUInt32BE(4)).toString('hex')).toBe(CAPTURED_HELLO.hex);
  });

  it('leaves out the instructions of a delete, so the Flow that added a flow can delete it', () => {
    const added = FLOW_MODS.modifyStrict.flow;
    const del = serializeFlowMod({ command: 'delete_strict', flow: added }, 2);
    expect(del.toString('hex')).toBe(CAPTURED.deleteStrict.hex);
  });

  it('treats an empty action list as no instruction (drop)', () => {
    const drop = FLOW_MODS.drop;
    expect(serializeFlowMod({ ...drop, flow: { ...drop.flow, actions: [] } }, 2).toString('hex')).toBe(CAPTURED.drop.hex);
  });

  it('encodes barrier, echo and error messages', () => {
    expect(serialize({ type: 'barrier_request' }, 7).toString('hex')).toBe('0414000800000007');
    expect(serialize({ type: 'barrier_reply' }, 7).toString('hex')).toBe('0415000800000007');
    expect(serialize({ type: 'echo_reply', data: Buffer.from('ab', 'hex') }, 9).toString('hex')).toBe('040300090000000' + '9ab');
    expect(serialize({ type: 'error', errorType: 2, errorCode: 10, data: Buffer.alloc(0) }, 3).toString('hex')).toBe('0401000c000000030002000a');
    expect(serialize({ type: 'error', errorType: 0xffff, errorCode: 1, experimenter: 0x2320, data: Buffer.alloc(0) }, 3).toString('hex'))
      .toBe('0401001000000003ffff000100002320');
    expect(serialize({ type: 'hello', versions: [] }, 1).toString('hex')).toBe('0400000800000001');
    expect(serialize({ type: 'raw', msgType: 5, body: Buffer.alloc(0) }, 1).toString('hex')).toBe('0405000800000001');
  });
});

describe('serializer: ONF bundle messages equal to ovs-ofctl 3.1 --bundle', () => {
  const xid = (h: string): number => Buffer.from(h, 'hex').readUInt32BE(4);

  it('add-flows: open, an add per flow_mod (its own xid inside and out), barrier, commit', () => {
    const [open, add1, add2, barrier, commit] = CAPTURED_BUNDLES.addFlows.hex;
    expect(serializeBundleControl(0, 'open_request', 3, xid(open)).toString('hex')).toBe(open);
    expect(serializeBundleAdd(0, 3, serializeFlowMod(FLOW_MODS.gotoTable, xid(add1))).toString('hex')).toBe(add1);
    expect(serialize({ type: 'bundle_add', bundleId: 0, flags: 3, message: { type: 'flow_mod', mod: FLOW_MODS.drop } }, xid(add2)).toString('hex')).toBe(add2);
    expect(serialize({ type: 'barrier_request' }, xid(barrier)).toString('hex')).toBe(barrier);
    expect(serialize({ type: 'bundle_control', bundleId: 0, controlType: 'commit_request', flags: 3 }, xid(commit)).toString('hex')).toBe(commit);
  });

  it('del-flows: the delete of every flow, bundled', () => {
    const [open, add, , commit] = CAPTURED_BUNDLES.delFlows.hex;
    const all: FlowMod = { command: 'delete', flow: { table: 255, priority: 0x8000, cookie: 0n, match: {} } };
    expect(serializeBundleControl(0, 'open_request', 3, xid(open)).toString('hex')).toBe(open);
    expect(serializeBundleAdd(0, 3, serializeFlowMod(all, xid(add))).toString('hex')).toBe(add);
    expect(serializeBundleControl(0, 'commit_request', 3, xid(commit)).toString('hex')).toBe(commit);
    expect(parseMessage(Buffer.from(add, 'hex'))).toMatchObject({ type: 'bundle_add', message: { type: 'flow_mod', mod: all } });
  });

  it('refuses a bundled flow_mod too long to fit in a bundle add', () => {
    const many = Array.from({ length: 4091 }, (): Action => ({ type: 'output', port: OFPP.LOCAL }));
    const inner = serializeFlowMod({ command: 'add', flow: { table: 0, priority: 1, cookie: 0n, match: {}, actions: many } }, 1);
    expect(inner.length).toBeLessThanOrEqual(65535);
    expect(() => serializeBundleAdd(1, 3, inner, 'mods[0]')).toThrow(OpenFlowEncodeError);
  });
});

describe('serializer: values it refuses, naming the field', () => {
  const base: FlowMod = { command: 'add', flow: { table: 0, priority: 1, cookie: 0n, match: {} } };
  const withMatch = (match: FlowMod['flow']['match']): FlowMod => ({ ...base, flow: { ...base.flow, match } });
  const withActions = (...actions: Action[]): FlowMod => ({ ...base, flow: { ...base.flow, actions } });
  const refused = (mod: FlowMod): OpenFlowEncodeError => {
    try {
      serializeFlowMod(mod, 1, 'mod');
    } catch (e) {
      expect(e).toBeInstanceOf(OpenFlowEncodeError);
      return e as OpenFlowEncodeError;
    }
    throw new Error('serializeFlowMod accepted it');
  };

  it('an arp field without eth_type ARP (OVS would answer OFPBMC_BAD_PREREQ)', () => {
    expect(refused(withMatch({ arpTpa: '10.0.0.1' })).field).toBe('mod.flow.match.arpTpa');
    expect(refused(withMatch({ ethType: 0x0800, arpOp: 1 })).field).toBe('mod.flow.match.arpOp');
  });

  it('malformed or out-of-range values', () => {
    expect(refused(withMatch({ ethDst: '02:00:00:00:00' })).field).toBe('mod.flow.match.ethDst');
    expect(refused(withMatch({ vlanVid: 4096 })).field).toBe('mod.flow.match.vlanVid');
    expect(refused(withMatch({ inPort: -1 })).field).toBe('mod.flow.match.inPort');
    expect(refused(withMatch({ tunnelId: 1n << 64n })).field).toBe('mod.flow.match.tunnelId');
    expect(refused({ ...base, flow: { ...base.flow, priority: 70000 } }).field).toBe('mod.flow.priority');
    expect(refused({ ...base, flow: { ...base.flow, cookie: -1n } }).field).toBe('mod.flow.cookie');
    expect(refused({ ...base, flow: { ...base.flow, gotoTable: 255 } }).field).toBe('mod.flow.gotoTable');
    expect(refused(withActions({ type: 'set_field', field: 'arp_spa', value: '10.0.0.256' })).field).toBe('mod.flow.actions[0].value');
    expect(refused(withActions({ type: 'output', port: 1 }, { type: 'set_field', field: 'eth_src', value: 5 })).field).toBe('mod.flow.actions[1].value');
    expect(refused(withActions({ type: 'set_field', field: 'vlan_vid', value: 0x1005 })).field).toBe('mod.flow.actions[0].value');
  });

  it('a table of 255 except in a delete', () => {
    expect(refused({ ...base, flow: { ...base.flow, table: 255 } }).field).toBe('mod.flow.table');
    expect(() => serializeFlowMod({ command: 'delete', flow: { ...base.flow, table: 255 } }, 1)).not.toThrow();
  });

  it('a move between fields of different widths', () => {
    expect(refused(withActions({ type: 'move', src: 'arp_spa', dst: 'eth_dst' })).field).toBe('mod.flow.actions[0]');
  });

  it('a flow_mod longer than 65535 bytes', () => {
    const many = Array.from({ length: 5000 }, (): Action => ({ type: 'output', port: OFPP.LOCAL }));
    expect(refused(withActions(...many)).message).toMatch(/longer than an OpenFlow message/);
  });
});
