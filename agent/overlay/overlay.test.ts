import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ownerMark } from '../vm/ownership.js';
import type { PortChange } from '../vm/port-committer.js';
import { AddPort, type Command, DelPort, transactionOps } from '../vswitch/commands.js';
import { type PortChangeRequest, type PortRow, portChangeCommands } from '../vswitch/vswitch.js';
import { Overlay, type OverlayStore, VlanExhaustedError } from './overlay.js';
import { TunnelSetUnknownError, tunnelPortName } from './tunnels.js';
import { golden } from './test-support/golden.js';

// What the overlay hands to OVSDB, recorded: the seam where a VM's VNI becomes a Port.tag.
function recordingStore(ports: PortRow[]): OverlayStore & { requests: PortChangeRequest[][] } {
  const requests: PortChangeRequest[][] = [];
  return {
    bridge: 'br-int',
    requests,
    listPorts: async () => ports,
    portsNamed: async (names) => ports.filter((p) => names.includes(p.name)),
    applyPortChanges: async (changes) => {
      requests.push([...changes]);
      return changes.map((_, i) => ({ ofport: 10 + i }));
    },
    commit: async () => new Map(),
  };
}

// The Interface external_ids the kernel executor writes for a VM (abridged).
const ids = (name: string, vni: number): Record<string, string> => ({
  'merak-vhost': 'vh-0', 'vm-id': name, 'vm-name': name, 'attached-mac': '02:00:00:00:00:01', ...(vni !== 0 && { 'merak-vni': String(vni) }),
});
const add = (name: string, vni: number): PortChange => ({ kind: 'add', name, type: '', externalIds: ids(name, vni), vni });

describe('Overlay VM ports', () => {
  it('puts a VM port of a VNI on its VLAN in the insert itself, and an untagged one on none', async () => {
    // Recovered: VNI 1002 already has VLAN 1 (a tunnel port); a foreign port uses tag 2.
    const store = recordingStore([
      { uuid: 'u1', name: 'vx1', tag: 1, externalIds: { 'merak-vhost': 'vh-0', 'merak-vni': '1002', 'merak-role': 'tunnel' } },
      { uuid: 'u2', name: 'other', tag: 2, externalIds: {} },
    ]);
    const overlay = await Overlay.open(store, { vhost: 'vh-0', logger: pino({ level: 'silent' }), underlayIp: '198.51.100.1' });
    const out = await overlay.applyPortChanges([add('mv1', 1001), add('mv2', 1002), add('mv3', 0), { kind: 'remove', name: 'mv9' }]);
    expect(out).toEqual([{ ofport: 10 }, { ofport: 11 }, { ofport: 12 }, { ofport: 13 }]);
    expect(store.requests[0]!.map((r) => (r.kind === 'add' ? [r.name, r.tag, r.portExternalIds] : [r.name]))).toEqual([
      ['mv1', 3, { 'merak-vni': '1001' }], ['mv2', 1, { 'merak-vni': '1002' }], ['mv3', undefined, undefined], ['mv9'],
    ]);
    expect(overlay.vlanMap()).toEqual(new Map([[1002, 1], [1001, 3]]));
    // What goes to OVSDB for the first two (the removal's Port uuid as a select would find it).
    const ops = transactionOps(portChangeCommands('br-int', ownerMark('vh-0'), store.requests[0]!, new Map([['mv9', '22222222-0000-0000-0000-000000000009']])), { waitForVswitchd: true });
    expect(ops).toEqual(golden('vm-ports-tagged.json', ops));
  });

  it('fails only the VM whose VNI finds no VLAN, and sends nothing for it', async () => {
    const store = recordingStore([]);
    const overlay = await Overlay.open(store, { vhost: 'vh-0', logger: pino({ level: 'silent' }), underlayIp: undefined, vlanRange: { min: 1, max: 2 } });
    const out = await overlay.applyPortChanges([add('a', 11), add('b', 12), add('c', 13), add('d', 0)]);
    expect(out.map((o) => ('error' in o ? o.error : o.ofport))).toEqual([10, 11, expect.any(VlanExhaustedError), 12]);
    expect(String((out[2] as { error: Error }).error.message)).toBe("no local VLAN left for VNI 13: all 2 VLANs of this vhost's br-int are in use by other VNIs");
    expect(store.requests[0]!.map((r) => r.name)).toEqual(['a', 'b', 'd']);
  });
});

/** OVSDB's tunnel ports, kept as the commands say; every command and every port read recorded. */
function portStore(): OverlayStore & { ports: Map<string, PortRow>; commits: Command[][]; reads: Array<'all' | string[]> } {
  const ports = new Map<string, PortRow>();
  const commits: Command[][] = [];
  const reads: Array<'all' | string[]> = [];
  let n = 0;
  return {
    bridge: 'br-int', ports, commits, reads,
    listPorts: async (match) => {
      reads.push('all');
      return match === 'all' ? [...ports.values()] : [...ports.values()].filter((p) => Object.entries(match).every(([k, v]) => p.externalIds[k] === v));
    },
    portsNamed: async (names) => {
      reads.push([...names]);
      return names.flatMap((x) => (ports.has(x) ? [ports.get(x)!] : []));
    },
    applyPortChanges: async () => [],
    commit: async (commands) => {
      commits.push([...commands]);
      for (const c of commands) {
        if (c instanceof AddPort) ports.set(c.spec.name, { uuid: `u${++n}`, name: c.spec.name, tag: c.spec.tag, externalIds: { ...c.spec.portExternalIds } });
        if (c instanceof DelPort) ports.delete(c.name);
      }
      return new Map();
    },
  };
}

const peer = (i: number, vni = 1001, remoteMac = ''): { remoteIp: string; vni: number; remoteMac: string } => ({ remoteIp: `198.51.100.${10 + i}`, vni, remoteMac });

describe('Overlay tunnel deltas (UpdateTunnels)', () => {
  it('adds and removes only the ports a delta names, reading only those ports', async () => {
    const store = portStore();
    const overlay = await Overlay.open(store, { vhost: 'vh-0', logger: pino({ level: 'silent' }), underlayIp: '198.51.100.1', tunnelBridge: 'br-tun' });
    expect(await overlay.setTunnels({ type: 'vxlan', flood: false, tunnels: [peer(1), peer(2), peer(3)] })).toEqual({ tunnels: 3, added: 3, removed: 0 });
    store.commits.length = 0;
    store.reads.length = 0;
    // vhost 4 joins the VPC, vhost 2 leaves it; vhost 1 gets a MAC (no port change).
    const out = await overlay.updateTunnels({ type: 'vxlan', flood: false, upsert: [peer(4), peer(1, 1001, '02:00:00:00:00:01')], remove: [{ remoteIp: peer(2).remoteIp, vni: 1001 }, { remoteIp: '198.51.100.99', vni: 1001 }] });
    expect(out).toEqual({ tunnels: 3, added: 1, removed: 1 });
    expect(store.commits).toHaveLength(1);
    expect(store.commits[0]!.map(String)).toEqual([
      `AddPort(br-tun, ${tunnelPortName('vxlan', peer(4).remoteIp, 1001)}, type=vxlan, tag=1, protected)`,
      `DelPort(br-tun, ${tunnelPortName('vxlan', peer(2).remoteIp, 1001)})`,
    ]);
    expect(store.reads).toEqual([[tunnelPortName('vxlan', peer(2).remoteIp, 1001), tunnelPortName('vxlan', peer(4).remoteIp, 1001)]]);
    expect([...store.ports.keys()].sort()).toEqual([1, 3, 4].map((i) => tunnelPortName('vxlan', peer(i).remoteIp, 1001)).sort());
    expect(overlay.coordinatorTunnels().tunnels).toEqual([peer(1, 1001, '02:00:00:00:00:01'), peer(3), peer(4)]);
    expect(overlay.peers().get(peer(1).remoteIp)).toBe('02:00:00:00:00:01');
    // A delta that changes no port commits nothing.
    store.commits.length = 0;
    expect(await overlay.updateTunnels({ type: 'vxlan', flood: false, upsert: [peer(3)], remove: [{ remoteIp: peer(2).remoteIp, vni: 1001 }] })).toEqual({ tunnels: 3, added: 0, removed: 0 });
    expect(store.commits).toEqual([]);
  });

  it('refuses a delta before any whole set, or of another type or flood, and changes nothing', async () => {
    const store = portStore();
    const overlay = await Overlay.open(store, { vhost: 'vh-0', logger: pino({ level: 'silent' }), underlayIp: '198.51.100.1', tunnelBridge: 'br-tun' });
    const delta = { type: 'vxlan' as const, flood: false, upsert: [peer(1)], remove: [] };
    await expect(overlay.updateTunnels(delta)).rejects.toThrow(TunnelSetUnknownError);
    await expect(overlay.updateTunnels(delta)).rejects.toThrow(/send the whole set \(SetTunnels\): no whole set was applied since the agent started/);
    await overlay.setTunnels({ type: 'vxlan', flood: false, tunnels: [peer(2)] });
    store.commits.length = 0;
    await expect(overlay.updateTunnels({ ...delta, type: 'geneve' })).rejects.toThrow(/the set is vxlan, the delta geneve/);
    await expect(overlay.updateTunnels({ ...delta, flood: true })).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    await expect(overlay.updateTunnels({ ...delta, upsert: [{ remoteIp: '198.51.100.1', vni: 1001, remoteMac: '' }] })).rejects.toThrow(/upsert\[0\].remote_ip/);
    expect(store.commits).toEqual([]);
    expect(overlay.coordinatorTunnels().tunnels).toEqual([peer(2)]);
    expect(await overlay.updateTunnels(delta)).toEqual({ tunnels: 2, added: 1, removed: 0 });
  });

  it('keeps a port GoalState still wants when the coordinator removes it (re-marked, not deleted)', async () => {
    const store = portStore();
    const overlay = await Overlay.open(store, { vhost: 'vh-0', logger: pino({ level: 'silent' }), underlayIp: '198.51.100.1', tunnelBridge: 'br-tun' });
    await overlay.setTunnels({ type: 'vxlan', flood: false, tunnels: [peer(1), peer(2)] });
    await overlay.exclusive(() => overlay.setGoalStateTunnels([peer(1)], []));
    store.commits.length = 0;
    expect(await overlay.updateTunnels({ type: 'vxlan', flood: false, upsert: [], remove: [{ remoteIp: peer(1).remoteIp, vni: 1001 }] })).toEqual({ tunnels: 1, added: 0, removed: 0 });
    expect(store.commits[0]!.map(String)).toEqual([`MutateExternalIds(Port ${tunnelPortName('vxlan', peer(1).remoteIp, 1001)}, set 1, remove 0)`]);
    expect(store.ports.has(tunnelPortName('vxlan', peer(1).remoteIp, 1001))).toBe(true);
  });
});
