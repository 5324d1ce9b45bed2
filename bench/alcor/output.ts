// The report of a run: the table for people and the JSON line (the output's last line).
import { cpus } from 'node:os';
import { type Quantiles, round } from '../common/stats.js';
import type { ModeFigures } from './figures.js';
import type { Mode, Options } from './options.js';
import type { Topology } from './topology.js';

export interface Ratios {
  /** hollow over null: how many times the floor of the push pipeline the host agent costs (>1: slower). */
  hollow_vs_null: Record<string, number | null> | null;
  /** hollow over push-off: what pushing (with hollow hosts) costs a bind's REST answer. */
  hollow_vs_push_off: Record<string, number | null> | null;
}

const over = (a: number | undefined, b: number | undefined): number | null => (a !== undefined && b !== undefined && a > 0 && b > 0 ? round(a / b, 2) : null);

export function ratios(f: Partial<Record<Mode, ModeFigures>>): Ratios {
  const h = f.hollow;
  const n = f.null;
  const off = f['push-off'];
  return {
    hollow_vs_null: h && n ? {
      put_p50: over(h.put_ms.p50, n.put_ms.p50), put_p99: over(h.put_ms.p99, n.put_ms.p99),
      bind_to_applied_p50: over(h.bind_to_applied_ms?.p50, n.bind_to_applied_ms?.p50), bind_to_applied_p99: over(h.bind_to_applied_ms?.p99, n.bind_to_applied_ms?.p99),
      // Throughput the other way round, so that >1 still means the host agent is slower.
      pushes_per_s: over(n.pushes_per_s, h.pushes_per_s),
      fleet_cpu_per_push: over(h.fleet_cpu_us_per_push ?? undefined, n.fleet_cpu_us_per_push ?? undefined),
    } : null,
    hollow_vs_push_off: h && off ? { put_p50: over(h.put_ms.p50, off.put_ms.p50), put_p99: over(h.put_ms.p99, off.put_ms.p99), binds_per_s: over(off.binds_per_s, h.binds_per_s) } : null,
  };
}

export function table(o: Options, topo: Topology, cols: readonly ModeFigures[], r: Ratios): string {
  const q = (x: Quantiles | null, k: 'p50' | 'p99'): string => (x ? String(x[k]) : '-');
  const rows: Array<[string, (x: ModeFigures) => string, string | undefined, string | undefined]> = [
    ['bind PUT answer p50 (ms)', (x) => q(x.put_ms, 'p50'), 'put_p50', 'put_p50'],
    ['bind PUT answer p99 (ms)', (x) => q(x.put_ms, 'p99'), 'put_p99', 'put_p99'],
    ['port POST answer p50/p99 (ms)', (x) => `${x.post_ms.p50}/${x.post_ms.p99}`, undefined, undefined],
    ['bind -> on its host p50 (ms)', (x) => q(x.bind_to_received_ms, 'p50'), undefined, undefined],
    ['bind -> on its host p99 (ms)', (x) => q(x.bind_to_received_ms, 'p99'), undefined, undefined],
    ['bind -> applied p50 (ms)', (x) => q(x.bind_to_applied_ms, 'p50'), 'bind_to_applied_p50', undefined],
    ['bind -> applied p99 (ms)', (x) => q(x.bind_to_applied_ms, 'p99'), 'bind_to_applied_p99', undefined],
    ['pushes', (x) => String(x.pushes), undefined, undefined],
    ['pushes per bind', (x) => String(x.pushes_per_bind), undefined, undefined],
    ['pushes per second', (x) => String(x.pushes_per_s), 'pushes_per_s', undefined],
    ['ports bound per second', (x) => String(x.binds_per_s), undefined, 'binds_per_s'],
    ['CPU s: bench process (server)', (x) => String(x.server_cpu_s), undefined, undefined],
    ['CPU s: fleet (hosts)', (x) => (x.mode === 'push-off' ? '-' : String(x.fleet_cpu_s)), undefined, undefined],
    ['hosts CPU per push (us)', (x) => String(x.fleet_cpu_us_per_push ?? '-'), 'fleet_cpu_per_push', undefined],
    ['failures REST / pushes', (x) => `${x.failures.rest} / ${x.failures.pushes}`, undefined, undefined],
    ['checks', (x) => (x.problems.length === 0 ? 'ok' : `${x.problems.length} FAILED`), undefined, undefined],
  ];
  const W = 15;
  const hn = r.hollow_vs_null;
  const ho = r.hollow_vs_push_off;
  const lines = [
    `Alcor bind with GoalState push: ${o.agents} hosts, ${o.ports} ports, ${topo.subnetCidrs.length} subnets of ${o.portsPerSubnet} ports over ${topo.hostsPerSubnet} hosts each (round robin),`,
    `${o.concurrency} ports in flight, ${o.channelsPerHost} channel(s) per host, ${o.rounds} round(s), ${cpus().length} cores. NCM pushes each bind to its host and its neighbor to`,
    `every other host with a port in the subnet, so pushes per bind grow with the subnet (one subnet over 1,000 hosts: ~10M pushes).`,
    `null: hosts that decode and answer nothing (on its host = arrival, applied = arrival). push-off: REST only.`,
    '',
    `${'metric'.padEnd(32)}${cols.map((c) => c.mode.padStart(W)).join('')}${hn ? '  hollow/null' : ''}${ho ? '  hollow/push-off' : ''}`,
  ];
  for (const [label, get, kn, ko] of rows) {
    const a = hn && kn ? hn[kn] : undefined;
    const b = ho && ko ? ho[ko] : undefined;
    const cell = (x: number | null | undefined, w: number): string => (x === undefined ? ''.padStart(w) : (x === null ? '-' : `${x}x`).padStart(w));
    lines.push(`${label.padEnd(32)}${cols.map((c) => get(c).padStart(W)).join('')}${hn ? cell(a, 13) : ''}${ho ? cell(b, 18) : ''}`.trimEnd());
  }
  lines.push('', 'ratios are hollow over the baseline (throughput inverted): >1 means the host agent (or the push) costs that many times more.');
  return lines.join('\n');
}

export function jsonLine(o: Options, topo: Topology, f: Partial<Record<Mode, ModeFigures>>, r: Ratios, errors: readonly string[], ok: boolean): string {
  const mode = (x: ModeFigures | undefined): unknown => (x ? {
    rounds: x.rounds,
    bind_to_applied_p50_ms: x.bind_to_applied_ms?.p50 ?? null, bind_to_applied_p99_ms: x.bind_to_applied_ms?.p99 ?? null,
    bind_to_received_p50_ms: x.bind_to_received_ms?.p50 ?? null, bind_to_received_p99_ms: x.bind_to_received_ms?.p99 ?? null,
    rest_put_p50_ms: x.put_ms.p50, rest_put_p99_ms: x.put_ms.p99, rest_put_max_ms: x.put_ms.max, rest_post_p50_ms: x.post_ms.p50, rest_post_p99_ms: x.post_ms.p99,
    pushes: x.pushes, pushes_per_bind: x.pushes_per_bind, pushes_per_s: x.pushes_per_s, binds_per_s: x.binds_per_s, bind_seconds: x.bind_seconds,
    server_cpu_s: x.server_cpu_s, fleet_cpu_s: x.fleet_cpu_s, fleet_cpu_us_per_push: x.fleet_cpu_us_per_push,
    failures: x.failures, problems: x.problems,
  } : null);
  return JSON.stringify({
    bench: 'alcor', ok, agents: o.agents, ports: o.ports, ports_per_subnet: o.portsPerSubnet, subnets: topo.subnetCidrs.length, hosts_per_subnet: topo.hostsPerSubnet,
    concurrency: o.concurrency, channels_per_host: o.channelsPerHost, rounds: o.rounds, cores: cpus().length,
    hollow: mode(f.hollow), null: mode(f.null), push_off: mode(f['push-off']), ratios: r, ...(errors.length > 0 ? { errors } : {}),
  });
}
