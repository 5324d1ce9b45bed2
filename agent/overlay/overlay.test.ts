import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ownerMark } from '../vm/ownership.js';
import type { PortChange } from '../vm/port-committer.js';
import { transactionOps } from '../vswitch/commands.js';
import { type PortChangeRequest, type PortRow, portChangeCommands } from '../vswitch/vswitch.js';
import { Overlay, type OverlayStore, VlanExhaustedError } from './overlay.js';
import { golden } from './test-support/golden.js';

// What the overlay hands to OVSDB, recorded: the seam where a VM's VNI becomes a Port.tag.
function recordingStore(ports: PortRow[]): OverlayStore & { requests: PortChangeRequest[][] } {
  const requests: PortChangeRequest[][] = [];
  return {
    bridge: 'br-int',
    requests,
    listPorts: async () => ports,
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
