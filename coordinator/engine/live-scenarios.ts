// What the control planes may know of the engine's scenarios (providers/provider.ts LiveScenarios),
// computed over its runs: a scenario counts while its VMs may exist (not deleted).
import type { NeighborVm } from '../tunnel-sets/tunnel-sets.js';
import type { Scenario } from '../scenario/index.js';
import type { Run } from './run-state.js';

/** The VNIs each vhost has VMs in, over the runs `counted` keeps (but `except`). */
export function liveVnis(runs: Iterable<Run>, counted: (run: Run) => boolean, except?: string): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  for (const run of runs) {
    if (run.id === except || run.phase === 'deleted' || !counted(run)) continue;
    for (const [host, vnis] of run.vnisByHost()) {
      const set = out.get(host) ?? out.set(host, new Set()).get(host)!;
      for (const v of vnis) set.add(v);
    }
  }
  return out;
}

/**
 * For each host of `hosts`, every VM of the VNIs it has VMs in, over the run `only` when given,
 * else over the runs `counted` keeps (but `except`).
 */
export function liveNeighbors(runs: Iterable<Run>, counted: (run: Run) => boolean, hosts: ReadonlySet<string>, opts: { only?: string; except?: string }): Map<string, NeighborVm[]> {
  const out = new Map<string, NeighborVm[]>();
  for (const run of runs) {
    if (opts.only !== undefined && run.id !== opts.only) continue;
    if (run.id === opts.except || run.phase === 'deleted' || !counted(run)) continue;
    if (!run.spec.hosts.some((h) => hosts.has(h))) continue;
    run.withPlan((plan) => {
      // Each VM described once (plan.vm formats its addresses), grouped by VNI.
      const byVni = new Map<number, NeighborVm[]>();
      for (let i = 0; i < plan.total; i++) {
        const p = plan.vm(i);
        (byVni.get(p.vni) ?? byVni.set(p.vni, []).get(p.vni)!).push({ vni: p.vni, ip: p.ip, mac: p.mac, host: p.host });
      }
      for (const [h, vnis] of plan.vnisByHost()) {
        const host = plan.hosts[h]!;
        if (!hosts.has(host)) continue;
        const list = out.get(host) ?? out.set(host, []).get(host)!;
        for (const vni of vnis) for (const v of byVni.get(vni) ?? []) list.push(v);
      }
    });
  }
  return out;
}

/** The hosts of every run of `provider` (but `except`). */
export function liveHosts(runs: Iterable<Run>, provider: Scenario['provider'], except?: string): Set<string> {
  const out = new Set<string>();
  for (const run of runs) {
    if (run.id === except || run.phase === 'deleted' || run.spec.scenario.provider !== provider) continue;
    for (const h of run.spec.hosts) out.add(h);
  }
  return out;
}
