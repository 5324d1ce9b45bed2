// The hollow backend: no kernel, no OVS. Ping answers that there is no data plane.
import type { Backend } from './backend.js';
import { HollowExecutor } from './vm/hollow-executor.js';

export function createHollowBackend(): Backend {
  return {
    executor: new HollowExecutor(),
    checks: [],
    hostInfo: async () => ({ addresses: [], ovsVersion: '', datapathType: 'hollow', bridge: '' }),
    ping: async (vm, targets) =>
      targets.map((target) => ({ vm, target, sent: 0, received: 0, rttMinMs: 0, rttAvgMs: 0, rttMaxMs: 0, error: 'hollow agent: no data plane' })),
    setTunnels: async (config) => config.tunnels.length,
    close: async () => {},
  };
}
