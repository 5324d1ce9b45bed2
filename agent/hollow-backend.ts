// The hollow backend: no kernel, no OVS. Ping answers that there is no data plane.
import { parseIpv4 } from '@merak/common';
import type { Backend } from './backend.js';
import { NeighborTable, type TunnelConfig } from './overlay/index.js';
import { HollowGoalStateDataPlane } from './goalstate/hollow-data-plane.js';
import { GoalStateSlot } from './goalstate/slot.js';
import { HollowExecutor } from './vm/hollow-executor.js';

export function createHollowBackend(): Backend {
  // Each VNI's remote addresses, sorted: 4 bytes a tunnel, not an object (a fleet of hollow agents
  // in one VPC holds n * (n - 1) of them: 100M at 10,000 agents).
  let tunnels = new Map<number, Uint32Array>();
  const table = new NeighborTable();
  const goalState = new GoalStateSlot();
  return {
    executor: new HollowExecutor({ goalState }),
    goalState,
    goalStateDataPlane: (ownIps) => new HollowGoalStateDataPlane(ownIps),
    checks: [],
    underlayIp: undefined,
    underlayMac: undefined,
    hostInfo: async () => ({ addresses: [], ovsVersion: '', datapathType: 'hollow', bridge: '' }),
    ping: async (vm, targets) =>
      targets.map((target) => ({ vm, target, sent: 0, received: 0, rttMinMs: 0, rttAvgMs: 0, rttMaxMs: 0, error: 'hollow agent: no data plane', firstReplyMs: 0 })),
    // No data plane: the set is accepted (so control-plane load tests exercise the call) and kept.
    setTunnels: async (config) => {
      const after = compact(config.tunnels);
      let size = 0;
      let common = 0;
      let before = 0;
      for (const ips of after.values()) size += ips.length;
      for (const [vni, ips] of tunnels) {
        before += ips.length;
        const next = after.get(vni);
        if (next) common += shared(ips, next);
      }
      tunnels = after;
      return { tunnels: size, added: size - common, removed: before - common };
    },
    // No data plane: the table is kept (control-plane load tests exercise the call), no flow exists.
    updateNeighbors: async (change) => {
      const t0 = process.hrtime.bigint();
      table.apply(change);
      return { neighbors: table.size, flows: 0, flowsAdded: 0, flowsRemoved: 0, micros: Number((process.hrtime.bigint() - t0) / 1000n) };
    },
    close: async () => {},
  };
}

function compact(list: TunnelConfig['tunnels']): Map<number, Uint32Array> {
  const byVni = new Map<number, number[]>();
  for (const t of list) (byVni.get(t.vni) ?? byVni.set(t.vni, []).get(t.vni)!).push(parseIpv4(t.remoteIp) ?? 0);
  return new Map([...byVni].map(([vni, ips]) => [vni, Uint32Array.from(ips).sort()]));
}

/** How many values two sorted arrays (each without repeats) have in common. */
function shared(a: Uint32Array, b: Uint32Array): number {
  let n = 0;
  for (let i = 0, j = 0; i < a.length && j < b.length;) {
    if (a[i]! < b[j]!) i++;
    else if (a[i]! > b[j]!) j++;
    else {
      n++;
      i++;
      j++;
    }
  }
  return n;
}
