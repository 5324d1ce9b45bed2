// The report of a run: the ratios of neighbors to flood, the table for people, the JSON line.
import type { Mode, ModeFigures, Options, Spread } from './figures.js';
import { round } from './figures.js';

export type Ratio = Record<string, number | null>;

/** How many times better neighbors is than flood on a figure; null when a side has none. */
function better(neighbors: number, flood: number, higherIsBetter: boolean): number | null {
  if (!(neighbors > 0) || !(flood > 0)) return null;
  return round(higherIsBetter ? neighbors / flood : flood / neighbors, 2);
}

/** The ratios when both modes ran; the keys name the table's rows that show them. */
export function ratios(n: ModeFigures | undefined, f: ModeFigures | undefined): Ratio | undefined {
  return n && f ? {
    pairsPassed: better(n.pairs.passed, f.pairs.passed, true),
    firstReplyP50: better(n.firstReplyMs.p50, f.firstReplyMs.p50, false),
    firstReplyP99: better(n.firstReplyMs.p99, f.firstReplyMs.p99, false),
    rttP50: better(n.rttMs.p50, f.rttMs.p50, false),
    rttP99: better(n.rttMs.p99, f.rttMs.p99, false),
    lastVmReady: better(n.seconds.lastVmReady, f.seconds.lastVmReady, false),
  } : undefined;
}

export function table(o: Options, cols: readonly ModeFigures[], ratio: Ratio | undefined): string {
  const fmtSpread = (s: Spread): string => `${s.min}/${s.median}/${s.max}`;
  const W = 26;
  const rows: Array<[string, (x: ModeFigures) => string, string]> = [
    ['pairs passed (first test)', (x) => `${x.pairs.passed}/${x.pairs.tested}`, 'pairsPassed'],
    ['time to first reply p50 (ms)', (x) => String(x.firstReplyMs.p50), 'firstReplyP50'],
    ['time to first reply p99 (ms)', (x) => String(x.firstReplyMs.p99), 'firstReplyP99'],
    ['RTT p50 (ms)', (x) => String(x.rttMs.p50), 'rttP50'],
    ['RTT p99 (ms)', (x) => String(x.rttMs.p99), 'rttP99'],
    ['VMs ready / failed', (x) => `${x.vms.ready} / ${x.vms.failed}`, ''],
    ['last VM ready after (s)', (x) => String(x.seconds.lastVmReady), 'lastVmReady'],
    ['network phase (s)', (x) => String(x.seconds.network ?? '-'), ''],
    ['ping test (s)', (x) => String(x.seconds.test ?? '-'), ''],
    ['flows per vhost min/med/max', (x) => fmtSpread(x.flowsPerVhost), ''],
    ['  expected from the plan', (x) => fmtSpread(x.flowsPerVhost.expected), ''],
    ['tunnels per vhost min/med/max', (x) => fmtSpread(x.tunnelsPerVhost), ''],
    ['tables: slowest vhost (ms)', (x) => String(x.neighborTables.coordinatorSlowestMs ?? '-'), ''],
    ['tables: all vhosts, wall (ms)', (x) => String(x.neighborTables.coordinatorWallMs ?? '-'), ''],
    ['tables: flow_mods sent', (x) => String(x.neighborTables.coordinatorFlowMods ?? '-'), ''],
    ['tables: agent ms min/med/max', (x) => (x.neighborTables.agentMs ? fmtSpread(x.neighborTables.agentMs) : '-'), ''],
    ['load 1-min start/mean/max', (x) => `${x.load.atStart}/${x.load.mean}/${x.load.max}`, ''],
    ['CPU busy before / during (%)', (x) => `${x.load.cpuBusyPctBefore} / ${x.load.cpuBusyPct}`, ''],
    ['agents lost mid-scenario', (x) => String(x.agentsLost), ''],
    ['checks', (x) => (x.problems.length === 0 ? 'ok' : `${x.problems.length} FAILED`), ''],
  ];
  const lines = [
    `data plane, ${o.hosts} vhosts, ${o.vms} VMs in one VPC (uniform), ${o.pairs} sampled pairs, ${o.count} echoes, ${o.timeoutMs} ms timeout, cold caches`,
    `${'metric'.padEnd(34)}${cols.map((c) => c.dataplane.padStart(W)).join('')}${ratio ? '  ratio (>1: neighbors better)' : ''}`,
  ];
  for (const [label, get, key] of rows) {
    const r = ratio && key ? ratio[key] : undefined;
    lines.push(`${label.padEnd(34)}${cols.map((c) => get(c).padStart(W)).join('')}${r === undefined ? '' : `  ${r === null ? '-' : `${r}x`}`}`);
  }
  return lines.join('\n');
}

/** The output's last line: one JSON object with the figures. */
export function jsonLine(o: Options, results: Partial<Record<Mode, ModeFigures>>, ratio: Ratio | undefined, errors: readonly string[]): string {
  return JSON.stringify({
    bench: 'dataplane', hosts: o.hosts, vms: o.vms, pairs: o.pairs, count: o.count, timeoutMs: o.timeoutMs,
    neighbors: results.neighbors ?? null, flood: results.flood ?? null, ratio: ratio ?? null, ...(errors.length > 0 ? { errors } : {}),
  });
}
