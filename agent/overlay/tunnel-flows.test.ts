import { describe, expect, it } from 'vitest';
import { COOKIE, TABLE, type FlowContext, fixedFlows, flowKey, ingressFlow, neighborFlows } from './tunnel-flows.js';

const ctx: FlowContext = {
  localIp: '198.51.100.1',
  vlanOf: (vni) => ({ 1001: 1, 1002: 2 } as Record<number, number>)[vni],
  tunnelOfport: (hostIp, vni) => (hostIp === '198.51.100.2' && vni === 1001 ? 7 : undefined),
};

describe('tunnel bridge flows', () => {
  it('answer ARP for a remote neighbor in place and send frames to its MAC into its tunnel', () => {
    const flows = neighborFlows({ vni: 1001, ip: '10.1.0.2', mac: '02:00:00:00:00:02', hostIp: '198.51.100.2' }, ctx);
    expect(flows).toEqual([
      {
        table: TABLE.fromInt, priority: 100, cookie: COOKIE.neighbor,
        match: { ethType: 0x0806, vlanVid: 1, arpOp: 1, arpTpa: '10.1.0.2' },
        actions: [
          { type: 'move', src: 'eth_src', dst: 'eth_dst' },
          { type: 'set_field', field: 'eth_src', value: '02:00:00:00:00:02' },
          { type: 'set_field', field: 'arp_op', value: 2 },
          { type: 'move', src: 'arp_sha', dst: 'arp_tha' },
          { type: 'move', src: 'arp_spa', dst: 'arp_tpa' },
          { type: 'set_field', field: 'arp_sha', value: '02:00:00:00:00:02' },
          { type: 'set_field', field: 'arp_spa', value: '10.1.0.2' },
          { type: 'output', port: 0xfffffff8 },
        ],
      },
      { table: TABLE.fromInt, priority: 50, cookie: COOKIE.neighbor, match: { vlanVid: 1, ethDst: '02:00:00:00:00:02' }, actions: [{ type: 'pop_vlan' }, { type: 'output', port: 7 }] },
    ]);
  });

  it('give a local neighbor, a VNI without a VLAN or a vhost without a tunnel no flow', () => {
    expect(neighborFlows({ vni: 1001, ip: '10.1.0.9', mac: '02:00:00:00:00:09', hostIp: '198.51.100.1' }, ctx)).toEqual([]);
    expect(neighborFlows({ vni: 5, ip: '10.1.0.2', mac: '02:00:00:00:00:02', hostIp: '198.51.100.2' }, ctx)).toEqual([]);
    expect(neighborFlows({ vni: 1002, ip: '10.1.0.2', mac: '02:00:00:00:00:02', hostIp: '198.51.100.2' }, ctx)).toEqual([]);
  });

  it('tag frames from a tunnel with the VNI’s VLAN, and drop whatever no flow claims', () => {
    expect(ingressFlow(1002, 2, 3)).toEqual({
      table: 0, priority: 50, cookie: COOKIE.ingress, match: { tunnelId: 1002n },
      actions: [{ type: 'push_vlan', ethertype: 0x8100 }, { type: 'set_field', field: 'vlan_vid', value: 2 }, { type: 'output', port: 3 }],
    });
    const fixed = fixedFlows(3);
    expect(fixed.map((f) => [f.table, f.priority, f.match, f.gotoTable, f.actions])).toEqual([
      [0, 100, { inPort: 3 }, 1, undefined], [0, 0, {}, undefined, []], [1, 0, {}, undefined, []],
    ]);
  });

  it('key flows as OVS does: the same VLAN and MAC is one flow, another VNI’s VLAN another', () => {
    const a = neighborFlows({ vni: 1001, ip: '10.1.0.2', mac: '02:00:00:00:00:02', hostIp: '198.51.100.2' }, ctx);
    const sameMacOtherIp = neighborFlows({ vni: 1001, ip: '10.1.0.3', mac: '02:00:00:00:00:02', hostIp: '198.51.100.2' }, ctx);
    expect(flowKey(a[1]!)).toBe(flowKey(sameMacOtherIp[1]!));
    expect(flowKey(a[0]!)).not.toBe(flowKey(sameMacOtherIp[0]!));
    const otherVlan = { ...a[1]!, match: { ...a[1]!.match, vlanVid: 2 } };
    expect(flowKey(otherVlan)).not.toBe(flowKey(a[1]!));
  });
});
