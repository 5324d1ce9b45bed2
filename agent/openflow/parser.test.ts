// Parser tests over bytes from Open vSwitch (testdata/captured.ts): ovs-ofctl's flow_mods decode to
// the FlowMods they stand for, vswitchd's HELLO and ERROR replies to their names and the xid they
// refuse. The whole stream is also cut at every byte offset and fed byte by byte: the same messages
// come out, none early, none lost.
import { describe, expect, it } from 'vitest';
import { OFPBFC, OFPET, OFPT, ONF_BUNDLE_ERROR_BASE, ONF_EXPERIMENTER_ID } from './constants.js';
import { OpenFlowDecodeError } from './errors.js';
import type { ParsedMessage } from './messages.js';
import { OpenFlowParser, parseMessage } from './parser.js';
import { serialize, serializeFlowMod } from './serializer.js';
import { CAPTURED, CAPTURED_BUNDLES, VSWITCHD_HELLO, VSWITCHD_REPLIES } from './testdata/captured.js';
import { FLOW_MODS } from './testdata/flow-mods.js';

const names = Object.keys(CAPTURED) as Array<keyof typeof CAPTURED>;
const hex = (h: string): Buffer => Buffer.from(h, 'hex');

function parseAll(buf: Buffer): ParsedMessage[] {
  const p = new OpenFlowParser();
  const out = p.push(buf);
  expect(p.pending).toBe(0);
  return out;
}

describe('parser: what Open vSwitch sends', () => {
  it.each(names)('ovs-ofctl flow_mod %s decodes to its FlowMod', (name) => {
    const [m] = parseAll(hex(CAPTURED[name].hex));
    expect(m).toMatchObject({ type: 'flow_mod', header: { version: 4, type: OFPT.FLOW_MOD, xid: 2 } });
    expect(m?.type === 'flow_mod' && m.mod).toEqual(FLOW_MODS[name]);
  });

  it("vswitchd's HELLO: version 6 without a bitmap", () => {
    expect(parseAll(hex(VSWITCHD_HELLO))).toEqual([{ type: 'hello', header: { version: 6, type: 0, length: 8, xid: 1 }, versions: [] }]);
  });

  it("vswitchd's errors: names, and the refused request's xid from the data", () => {
    const msgs = parseAll(hex(VSWITCHD_REPLIES));
    expect(msgs.map((m) => m.type)).toEqual(['error', 'error', 'error', 'barrier_reply']);
    const errors = msgs.filter((m) => m.type === 'error');
    expect(errors.map((e) => [e.header.xid, e.failedRequest?.xid, e.failedRequest?.type, `${e.typeName}/${e.codeName}`])).toEqual([
      [100, 100, OFPT.FLOW_MOD, 'OFPET_BAD_ACTION/OFPBAC_MATCH_INCONSISTENT'],
      [101, 101, OFPT.FLOW_MOD, 'OFPET_BAD_INSTRUCTION/OFPBIC_BAD_TABLE_ID'],
      [102, 102, OFPT.FLOW_MOD, 'OFPET_BAD_ACTION/OFPBAC_MATCH_INCONSISTENT'],
    ]);
    expect(errors[0]).toMatchObject({ errorType: OFPET.BAD_ACTION, errorCode: 10 });
    // vswitchd echoes the whole request: it decodes again.
    expect(parseMessage(errors[0]!.data)).toMatchObject({
      type: 'flow_mod', mod: { flow: { table: 1, priority: 9, actions: [{ type: 'set_field', field: 'arp_op', value: 2 }] } },
    });
    expect(msgs[3]!.header.xid).toBe(104);
  });
});

describe('parser: ONF bundle messages', () => {
  it("ovs-ofctl --bundle add-flows: control and add messages, the inner flow_mods decoded", () => {
    const msgs = parseAll(hex(CAPTURED_BUNDLES.addFlows.hex.join('')));
    expect(msgs.map((m) => (m.type === 'bundle_control' ? m.controlType : m.type))).toEqual(['open_request', 'bundle_add', 'bundle_add', 'barrier_request', 'commit_request']);
    expect(msgs[0]).toMatchObject({ bundleId: 0, flags: 3, header: { xid: 4 } });
    expect(msgs[1]).toMatchObject({ type: 'bundle_add', bundleId: 0, flags: 3, header: { xid: 2 }, message: { type: 'flow_mod', header: { xid: 2 }, mod: FLOW_MODS.gotoTable } });
    expect(msgs[2]).toMatchObject({ message: { mod: FLOW_MODS.drop } });
  });

  it('replies and bundle errors (OpenFlow 1.3: ONF experimenter errors, 2300 + the OFPBFC code)', () => {
    const reply = serialize({ type: 'bundle_control', bundleId: 7, controlType: 'commit_reply', flags: 0 }, 9);
    expect(parseMessage(reply)).toEqual({ type: 'bundle_control', header: { version: 4, type: OFPT.EXPERIMENTER, length: 24, xid: 9 }, bundleId: 7, controlType: 'commit_reply', flags: 0 });
    const err = serialize({ type: 'error', errorType: OFPET.EXPERIMENTER, errorCode: ONF_BUNDLE_ERROR_BASE + OFPBFC.MSG_FAILED, experimenter: ONF_EXPERIMENTER_ID, data: reply }, 9);
    expect(parseMessage(err)).toMatchObject({ typeName: 'OFPET_BUNDLE_FAILED', codeName: 'OFPBFC_MSG_FAILED', experimenter: ONF_EXPERIMENTER_ID, failedRequest: { xid: 9 } });
    const nicira = serialize({ type: 'error', errorType: OFPET.EXPERIMENTER, errorCode: 2313, experimenter: 0x2320, data: Buffer.alloc(0) }, 1);
    expect(parseMessage(nicira)).toMatchObject({ codeName: '0x00002320/2313' });
  });

  it('a bundle add whose inner message overruns it comes out raw, with the reason', () => {
    const bad = hex(CAPTURED_BUNDLES.addFlows.hex[1]);
    bad.writeUInt16BE(0x1000, 26); // the inner length
    expect(parseMessage(bad)).toMatchObject({ type: 'raw', decodeError: { message: expect.stringContaining('inner message') } });
  });
});

describe('parser: a stream cut anywhere', () => {
  const stream = Buffer.concat([
    hex(VSWITCHD_HELLO),
    ...names.map((n) => hex(CAPTURED[n].hex)),
    hex(VSWITCHD_REPLIES),
    serialize({ type: 'echo_request', data: Buffer.from('ping') }, 77),
    serialize({ type: 'raw', msgType: OFPT.PORT_STATUS, body: Buffer.alloc(16, 1) }, 0),
  ]);
  const whole = parseAll(stream);

  it('holds every message once', () => {
    expect(whole.map((m) => m.type)).toEqual([
      'hello', ...names.map(() => 'flow_mod'), 'error', 'error', 'error', 'barrier_reply', 'echo_request', 'raw',
    ]);
    expect(whole.at(-1)).toMatchObject({ type: 'raw', msgType: OFPT.PORT_STATUS, body: Buffer.alloc(16, 1) });
    expect(whole.at(-1)).not.toHaveProperty('decodeError');
  });

  it('gives the same messages when cut in two at every byte offset', () => {
    // Where each message ends: only those wholly inside the first part come out of it.
    const ends: number[] = [];
    for (const m of whole) ends.push((ends.at(-1) ?? 0) + m.header.length);
    for (let cut = 0; cut <= stream.length; cut++) {
      const p = new OpenFlowParser();
      const first = p.push(stream.subarray(0, cut));
      expect(first.length, `cut at ${cut}`).toBe(ends.filter((e) => e <= cut).length);
      expect([...first, ...p.push(stream.subarray(cut))], `cut at ${cut}`).toEqual(whole);
      expect(p.pending).toBe(0);
    }
  });

  it('gives the same messages fed one byte at a time', () => {
    const p = new OpenFlowParser();
    const out: ParsedMessage[] = [];
    for (let i = 0; i < stream.length; i++) out.push(...p.push(stream.subarray(i, i + 1)));
    expect(out).toEqual(whole);
  });

  it('keeps a copy of the tail, not a view of a chunk the caller may reuse', () => {
    const p = new OpenFlowParser();
    const chunk = Buffer.from(stream.subarray(0, 12)); // the HELLO and 4 bytes of the next message
    p.push(chunk);
    chunk.fill(0);
    expect(p.push(stream.subarray(12, 8 + CAPTURED.arpResponder.hex.length / 2))[0]).toEqual(whole[1]);
  });
});

describe('parser: what it cannot decode', () => {
  const arp = serializeFlowMod(FLOW_MODS.arpResponder, 9);

  it('a header shorter than itself breaks framing: a typed error', () => {
    expect(() => new OpenFlowParser().push(hex('0400000400000001'))).toThrow(OpenFlowDecodeError);
  });

  it('a known type with a body it cannot read comes out raw, with the reason', () => {
    const masked = Buffer.from(arp);
    masked.writeUInt8(masked.readUInt8(8 + 40 + 4 + 2) | 1, 8 + 40 + 4 + 2); // eth_type's hasmask bit
    const unknownAction = Buffer.from(arp);
    unknownAction.writeUInt16BE(23, arp.length - 16); // OFPAT_SET_NW_TTL instead of the output
    const truncated = Buffer.from(arp.subarray(0, 60));
    truncated.writeUInt16BE(60, 2);
    const reasons = [masked, unknownAction, truncated].map((bad) => {
      const [m] = parseAll(bad);
      expect(m).toMatchObject({ type: 'raw', msgType: OFPT.FLOW_MOD, header: { xid: 9 } });
      expect(m?.type === 'raw' && m.decodeError).toBeInstanceOf(OpenFlowDecodeError);
      return m?.type === 'raw' ? m.decodeError?.message : undefined;
    });
    expect(reasons).toEqual([
      expect.stringMatching(/masked fields are not supported/), expect.stringMatching(/action type 23/), expect.stringMatching(/runs past/),
    ]);
  });

  it('a flow_mod of another version is left raw, undecoded', () => {
    const v5 = Buffer.from(arp);
    v5.writeUInt8(5, 0);
    expect(parseAll(v5)[0]).toMatchObject({ type: 'raw', msgType: OFPT.FLOW_MOD });
  });

  it('an experimenter error keeps its id and finds the request after it', () => {
    const e = serialize({ type: 'error', errorType: OFPET.EXPERIMENTER, errorCode: 3, experimenter: 0x2320, data: arp }, 9);
    expect(parseAll(e)[0]).toMatchObject({
      type: 'error', experimenter: 0x2320, typeName: 'OFPET_EXPERIMENTER', codeName: '0x00002320/3', failedRequest: { xid: 9, type: OFPT.FLOW_MOD },
    });
  });

  it('an error too short to hold a request has no failedRequest', () => {
    expect(parseAll(serialize({ type: 'error', errorType: 1, errorCode: 6, data: Buffer.alloc(3) }, 4))[0])
      .toMatchObject({ type: 'error', codeName: 'OFPBRC_BAD_LEN', failedRequest: undefined });
  });

  it('every serialized FlowMod parses back to itself', () => {
    for (const n of names) {
      const [m] = parseAll(serializeFlowMod(FLOW_MODS[n], 5));
      expect(m?.type === 'flow_mod' && m.mod).toEqual(FLOW_MODS[n]);
    }
    const all = { command: 'modify', cookieMask: 1n, idleTimeout: 3, hardTimeout: 4, flags: 1, outPort: 2, outGroup: 3, bufferId: 7, flow: FLOW_MODS.ingress.flow } as const;
    const [m] = parseAll(serializeFlowMod(all, 5));
    expect(m?.type === 'flow_mod' && m.mod).toEqual(all);
  });
});
