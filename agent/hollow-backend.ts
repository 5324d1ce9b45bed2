// The hollow backend: no kernel, no OVS. Ping answers that there is no data plane.
import type { Backend } from './backend.js';
import { NeighborTable, type TunnelConfig } from './overlay/index.js';
import { HollowGoalStateDataPlane } from './goalstate/hollow-data-plane.js';
import { GoalStateSlot } from './goalstate/slot.js';
import { HollowExecutor } from './vm/hollow-executor.js';

export function createHollowBackend(): Backend {
  let tunnels: TunnelConfig['tunnels'] = [];
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
      const before = new Set(tunnels.map((t) => `${t.remoteIp}/${t.vni}`));
      const after = new Set(config.tunnels.map((t) => `${t.remoteIp}/${t.vni}`));
      tunnels = [...config.tunnels];
      return { tunnels: after.size, added: [...after].filter((k) => !before.has(k)).length, removed: [...before].filter((k) => !after.has(k)).length };
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
