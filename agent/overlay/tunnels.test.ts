import { describe, expect, it } from 'vitest';
import { transactionOps } from '../vswitch/commands.js';
import type { PortRow } from '../vswitch/vswitch.js';
import { golden } from './test-support/golden.js';
import { allTunnels, planTunnels, sourcesMark, sourcesOf, tunnelCount, tunnelPortName } from './tunnels.js';

describe('tunnel port names', () => {
  it('encode type, remote and VNI in at most 15 bytes, one name per tunnel', () => {
    expect(tunnelPortName('vxlan', '198.51.100.2', 1001)).toBe('vc63364020003e9');
    expect(tunnelPortName('geneve', '198.51.100.2', 1001)).toBe('gc63364020003e9');
    expect(tunnelPortName('vxlan', '255.255.255.254', 0xffffff)).toBe('vfffffffeffffff');
    expect(tunnelPortName('vxlan', '1.0.0.1', 1)).toBe('v01000001000001');
    const names = new Set<string>();
    for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.1.1']) for (const vni of [1, 255, 256, 4096]) names.add(tunnelPortName('vxlan', ip, vni));
    expect(names.size).toBe(12);
    for (const n of names) expect(Buffer.byteLength(n)).toBeLessThanOrEqual(15);
  });
});

// The vhost has VLAN 1 for VNI 1001 and 2 for 1002, and three tunnel ports: one wanted as it is,
// one wanted but on a wrong tag, one no longer wanted.
const existing: PortRow[] = [
  { uuid: '11111111-0000-0000-0000-000000000001', name: tunnelPortName('vxlan', '198.51.100.2', 1001), tag: 1, externalIds: {} },
  { uuid: '11111111-0000-0000-0000-000000000002', name: tunnelPortName('vxlan', '198.51.100.3', 1001), tag: 7, externalIds: {} },
  { uuid: '11111111-0000-0000-0000-000000000003', name: tunnelPortName('vxlan', '198.51.100.3', 1003), tag: 3, externalIds: {} },
];
const vlans = new Map([[1001, 1], [1002, 2]]);

describe('planTunnels', () => {
  it('adds the missing, re-tags, removes the extras and keeps the rest, in one transaction', () => {
    const plan = planTunnels({
      bridge: 'br-int', vhost: 'vh-0', type: 'vxlan', existing, vlanOf: (v) => vlans.get(v)!,
      tunnels: [
        { remoteIp: '198.51.100.2', vni: 1001 },
        { remoteIp: '198.51.100.3', vni: 1001 },
        { remoteIp: '198.51.100.2', vni: 1002 },
        { remoteIp: '198.51.100.3', vni: 1002 },
      ],
    });
    expect({ added: plan.added, removed: plan.removed, unchanged: plan.unchanged, retagged: plan.retagged }).toEqual({
      added: ['vc63364020003ea', 'vc63364030003ea'], removed: 1, unchanged: 1, retagged: 1,
    });
    expect(plan.commands.map(String)).toEqual([
      'AddPort(br-int, vc63364020003ea, type=vxlan, tag=2, protected)',
      'AddPort(br-int, vc63364030003ea, type=vxlan, tag=2, protected)',
      'SetPortTag(vc63364030003e9, 1)',
      'DelPort(br-int, vc63364030003eb)',
    ]);
    const ops = transactionOps(plan.commands, { waitForVswitchd: true });
    expect(ops).toEqual(golden('tunnel-reconcile.json', ops));
  });

  it('plans nothing when the set is already there, and removes everything for an empty set', () => {
    const same = planTunnels({
      bridge: 'br-int', vhost: 'vh-0', type: 'vxlan', existing: existing.slice(0, 1), vlanOf: (v) => vlans.get(v)!,
      tunnels: [{ remoteIp: '198.51.100.2', vni: 1001 }],
    });
    expect(same).toMatchObject({ commands: [], added: [], removed: 0, unchanged: 1 });
    const none = planTunnels({ bridge: 'br-int', vhost: 'vh-0', type: 'vxlan', existing, vlanOf: () => 1, tunnels: [] });
    expect(none.removed).toBe(3);
    expect(transactionOps(none.commands, { waitForVswitchd: true })[0]).toEqual({
      op: 'mutate', table: 'Bridge', where: [['name', '==', 'br-int']],
      mutations: [['ports', 'delete', ['set', existing.map((p) => ['uuid', p.uuid])]]],
    });
  });

  it('replaces every tunnel when the type changes (the name says the type)', () => {
    const plan = planTunnels({
      bridge: 'br-int', vhost: 'vh-0', type: 'geneve', existing: existing.slice(0, 1), vlanOf: (v) => vlans.get(v)!,
      tunnels: [{ remoteIp: '198.51.100.2', vni: 1001 }],
    });
    expect(plan.commands.map(String)).toEqual(['AddPort(br-int, gc63364020003e9, type=geneve, tag=1, protected)', 'DelPort(br-int, vc63364020003e9)']);
  });

  it('marks a port with the sources that want it when not the coordinator alone, and re-marks a kept one', () => {
    const plan = planTunnels({
      bridge: 'br-tun', vhost: 'vh-0', type: 'geneve', existing: existing.slice(0, 1), vlanOf: (v) => vlans.get(v)!,
      tunnels: [
        // Kept (VXLAN, as GoalState's are), now wanted by both.
        { remoteIp: '198.51.100.2', vni: 1001, type: 'vxlan', sources: ['goalstate', 'coordinator'] },
        { remoteIp: '198.51.100.3', vni: 1002, type: 'vxlan', sources: ['goalstate'] },
        { remoteIp: '198.51.100.4', vni: 1002 },
      ],
    });
    expect(plan).toMatchObject({ added: ['vc63364030003ea', 'gc63364040003ea'], removed: 0, unchanged: 0, remarked: 1 });
    const ops = transactionOps(plan.commands, { waitForVswitchd: false });
    const portIds = ops.filter((o) => o.op === 'insert' && o.table === 'Port').map((o) => (o.row as { external_ids: ['map', Array<[string, string]>] }).external_ids[1]);
    expect(portIds[0]).toContainEqual(['merak-tunnel-for', 'goalstate']);
    expect(portIds[1]!.map(([k]) => k)).not.toContain('merak-tunnel-for');
    expect(ops).toContainEqual({
      op: 'mutate', table: 'Port', where: [['name', '==', 'vc63364020003e9']],
      mutations: [['external_ids', 'delete', ['set', ['merak-tunnel-for']]], ['external_ids', 'insert', ['map', [['merak-tunnel-for', 'coordinator,goalstate']]]]],
    });
    expect(sourcesOf({})).toEqual(['coordinator']);
    expect(sourcesOf({ 'merak-tunnel-for': 'coordinator,goalstate' })).toEqual(['coordinator', 'goalstate']);
    expect(sourcesMark(['coordinator'])).toBeUndefined();
  });
});

describe('packed tunnel groups', () => {
  it('unpack into the tunnels they stand for, MACs where known, and are counted without unpacking', () => {
    const macs = Uint8Array.from([2, 0, 0, 0, 0, 0x11, 0, 0, 0, 0, 0, 0]);
    const config = { type: 'vxlan' as const, flood: false, tunnels: [{ remoteIp: '198.51.100.9', vni: 5, remoteMac: '' }], groups: [{ vni: 7, ips: Uint32Array.from([0xc6336402, 0xc6336403]), macs }, { vni: 8, ips: Uint32Array.from([0xc6336402]), macs: undefined }] };
    expect(allTunnels(config)).toEqual([
      { remoteIp: '198.51.100.9', vni: 5, remoteMac: '' },
      { remoteIp: '198.51.100.2', vni: 7, remoteMac: '02:00:00:00:00:11' }, { remoteIp: '198.51.100.3', vni: 7, remoteMac: '' },
      { remoteIp: '198.51.100.2', vni: 8, remoteMac: '' },
    ]);
    expect(tunnelCount(config)).toBe(4);
    expect(allTunnels({ ...config, groups: [] })).toBe(config.tunnels);
  });
});
