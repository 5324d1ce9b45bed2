// The hollow backend: no kernel, no OVS. Ping answers that there is no data plane.
import { parseIpv4 } from '@merak/common';
import type { Backend } from './backend.js';
import { NeighborTable, type TunnelDelta, type TunnelType, deltaMismatch } from './overlay/index.js';
import { HollowGoalStateDataPlane } from './goalstate/hollow-data-plane.js';
import { GoalStateSlot } from './goalstate/slot.js';
import { HollowExecutor } from './vm/hollow-executor.js';

export interface HollowBackend extends Backend {
  /** The tunnel set held: each VNI's remote addresses (IPv4 as numbers), sorted. For benches to check from outside. */
  tunnelSet(): ReadonlyMap<number, Uint32Array>;
}

export function createHollowBackend(): HollowBackend {
  // Each VNI's remote addresses, sorted: 4 bytes a tunnel, not an object (a fleet of hollow agents
  // in one VPC holds n * (n - 1) of them: 100M at 10,000 agents).
  let tunnels = new Map<number, Uint32Array>();
  // The last whole set's type and flood: a delta must match them (as the kernel backend's must).
  let held: { type: TunnelType; flood: boolean } | undefined;
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
      // The packed groups as they come (sorted, checked): a copy each, merged with `tunnels`' of that VNI.
      for (const g of config.groups ?? []) after.set(g.vni, union(after.get(g.vni) ?? new Uint32Array(0), g.ips));
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
      held = { type: config.type, flood: config.flood };
      return { tunnels: size, added: size - common, removed: before - common };
    },
    // A delta merged into the VNIs it names: removals first, then upserts.
    updateTunnels: async (delta) => {
      const refused = deltaMismatch(held, delta);
      if (refused) throw refused;
      const out = applyDelta(tunnels, delta);
      let size = 0;
      for (const ips of tunnels.values()) size += ips.length;
      return { tunnels: size, ...out };
    },
    // No data plane: the table is kept (control-plane load tests exercise the call), no flow exists.
    updateNeighbors: async (change) => {
      const t0 = process.hrtime.bigint();
      table.apply(change);
      return { neighbors: table.size, flows: 0, flowsAdded: 0, flowsRemoved: 0, micros: Number((process.hrtime.bigint() - t0) / 1000n) };
    },
    setUnderlayUp: undefined,
    tunnelSet: () => tunnels,
    close: async () => {},
  };
}

function compact(list: ReadonlyArray<{ remoteIp: string; vni: number }>): Map<number, Uint32Array> {
  const byVni = new Map<number, number[]>();
  for (const t of list) (byVni.get(t.vni) ?? byVni.set(t.vni, []).get(t.vni)!).push(parseIpv4(t.remoteIp) ?? 0);
  return new Map([...byVni].map(([vni, ips]) => [vni, Uint32Array.from(ips).sort()]));
}

/** Applies `delta` to `tunnels` in place (only the VNIs it names are rebuilt); counts what changed. */
function applyDelta(tunnels: Map<number, Uint32Array>, delta: Pick<TunnelDelta, 'upsert' | 'remove'>): { added: number; removed: number } {
  const removes = compact(delta.remove);
  const upserts = compact(delta.upsert);
  let added = 0;
  let removed = 0;
  for (const vni of new Set([...removes.keys(), ...upserts.keys()])) {
    const before = tunnels.get(vni) ?? new Uint32Array(0);
    const gone = removes.get(vni);
    const kept = gone ? before.filter((ip) => !has(gone, ip)) : before;
    const after = union(kept, upserts.get(vni) ?? new Uint32Array(0));
    const common = shared(before, after);
    added += after.length - common;
    removed += before.length - common;
    if (after.length === 0) tunnels.delete(vni);
    else tunnels.set(vni, after);
  }
  return { added, removed };
}

/** Whether sorted `a` holds `x` (binary search). */
function has(a: Uint32Array, x: number): boolean {
  let lo = 0;
  let hi = a.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else if (a[mid]! > x) hi = mid - 1;
    else return true;
  }
  return false;
}

/** The sorted union, without repeats, of two sorted arrays. */
function union(a: Uint32Array, b: Uint32Array): Uint32Array {
  const out = new Uint32Array(a.length + b.length);
  let n = 0;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = j >= b.length || (i < a.length && a[i]! <= b[j]!) ? a[i++]! : b[j++]!;
    if (n === 0 || out[n - 1] !== x) out[n++] = x;
  }
  return out.slice(0, n);
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
