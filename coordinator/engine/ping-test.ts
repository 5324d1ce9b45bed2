// The scenario's ping test: pairs of ready VMs chosen by the plan, each source's pairs asked of
// its own vhost's agent (which converges each pair before the counted echoes: test.converge_ms),
// a bounded number of vhosts at once. Every pair selected has an outcome, a failure included.
import { forEachBounded } from '@merak/common';
import type { agentV1 } from '@merak/proto';
import { selectPingPairs } from '../plan/index.js';
import type { PingOutcome } from '../report/report.js';
import type { Store } from '../store/store.js';
import { READY, type Run } from './run-state.js';

export interface PingTestDeps {
  readonly store: Store;
  readonly clientFor: (host: string) => { ping(req: agentV1.PingRequest): Promise<agentV1.PingResponse> } | undefined;
  /** Hosts pinged at once. */
  readonly parallelism: number;
  /** The control plane allocated the VMs' addresses: each VM's own is in its stored result. */
  readonly addressesFromResults: boolean;
  readonly progress: (message: string) => void;
}

export async function runPingTest(run: Run, deps: PingTestDeps): Promise<PingOutcome[]> {
  const { plan, states } = run;
  const test = run.spec.scenario.test;
  if (test.kind !== 'ping') return [];
  const pairs = selectPingPairs(plan, (i) => states[i] === READY, (deps.addressesFromResults ? realAddresses(run, deps.store) : undefined));
  const bySource = new Map<number, typeof pairs>();
  for (const p of pairs) (bySource.get(p.src) ?? bySource.set(p.src, []).get(p.src)!).push(p);
  const byHost = new Map<string, number[]>();
  for (const src of bySource.keys()) {
    const host = plan.hosts[plan.hostOf[src]!]!;
    (byHost.get(host) ?? byHost.set(host, []).get(host)!).push(src);
  }
  deps.progress(`ping test: ${pairs.length} pairs from ${bySource.size} VMs on ${byHost.size} hosts`);
  const outcomes: PingOutcome[] = [];
  const hostOf = (i: number): string => plan.hosts[plan.hostOf[i]!]!;
  // A host's ping failing is its pairs' outcome (error set), not a throw: every host is asked.
  await forEachBounded([...byHost], deps.parallelism, async ([host, sources]) => {
    const client = deps.clientFor(host);
    const req: agentV1.PingRequest = {
      sources: sources.map((src) => ({ vm: plan.vm(src).name, targets: bySource.get(src)!.map((p) => p.dstIp) })),
      count: test.count, intervalMs: 100, timeoutMs: test.timeoutMs, convergeMs: test.convergeMs,
    };
    const res = client ? await client.ping(req).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e)))) : new Error(`agent ${host} is not connected`);
    sources.forEach((src, k) => {
      const name = req.sources[k]!.vm;
      for (const p of bySource.get(src)!) {
        const r = res instanceof Error ? undefined : res.results.find((x) => x.vm === name && x.target === p.dstIp);
        outcomes.push({
          src: plan.vm(src).id, dst: plan.vm(p.dst).id, srcHost: host, dstHost: hostOf(p.dst), dstIp: p.dstIp, expect: p.expect,
          sent: r?.sent ?? 0, received: r?.received ?? 0, rttAvgMs: r?.rttAvgMs ?? 0, firstReplyMs: r?.firstReplyMs ?? 0, error: res instanceof Error ? res.message : (r?.error ?? 'no result'),
        });
      }
    });
  }, { signal: run.abort.signal });
  return outcomes;
}

/** Where the control plane allocates the VMs' addresses, the plan's are not theirs: each VM's own, from its stored result. */
function realAddresses(run: Run, store: Store): (i: number) => string | undefined {
  const ips = new Array<string | undefined>(run.plan.total);
  for (const [i, ip] of store.readyIps(run.row.seq)) ips[i] = ip;
  return (i) => ips[i];
}
