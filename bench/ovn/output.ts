// The report of a run: the table for people and the JSON line (the output's last line).
import { cpus } from 'node:os';
import { type Quantiles, round } from '../common/stats.js';
import type { ModeFigures } from './figures.js';
import { MODE_LABELS, type Mode, type Options } from './options.js';

/** ours over a baseline: ports/s >1 = ours faster; latencies and CPU <1 = ours lower. */
export type Ratio = Record<string, number | null>;

const over = (a: number | undefined | null, b: number | undefined | null): number | null => (a !== undefined && a !== null && b !== undefined && b !== null && a > 0 && b > 0 ? round(a / b, 2) : null);

function ratio(a: ModeFigures, b: ModeFigures): Ratio {
  return {
    ports_per_s: over(a.ports_per_s, b.ports_per_s),
    installed_p50: over(a.installed_ms.p50, b.installed_ms.p50),
    installed_p99: over(a.installed_ms.p99, b.installed_ms.p99),
    first_reply_p50: over(a.first_reply_ms?.p50, b.first_reply_ms?.p50),
    northd_cpu_per_port: over(a.cpu_ms_per_port.northd, b.cpu_ms_per_port.northd),
    controllers_cpu_per_port: over(a.cpu_ms_per_port.ovn_controllers, b.cpu_ms_per_port.ovn_controllers),
    northd_plus_controllers_cpu_per_port: over(a.cpu_ms_per_port.northd_plus_controllers, b.cpu_ms_per_port.northd_plus_controllers),
  };
}

export interface Ratios {
  ours_vs_heater: Ratio | null;
  ours_vs_naive: Ratio | null;
  /** isolates the NB write (same VM side) */
  heater_vs_naive: Ratio | null;
}

export function ratios(f: Partial<Record<Mode, ModeFigures>>): Ratios {
  return {
    ours_vs_heater: f.ours && f.heater ? ratio(f.ours, f.heater) : null,
    ours_vs_naive: f.ours && f.naive ? ratio(f.ours, f.naive) : null,
    heater_vs_naive: f.heater && f.naive ? ratio(f.heater, f.naive) : null,
  };
}

export interface Growth {
  sizes: number[];
  /** largest size over smallest: how ours' cost grows with the switch */
  largest_vs_smallest: Ratio | null;
}

export function growth(bySize: readonly ModeFigures[]): Growth {
  const s = [...bySize].sort((x, y) => x.ports_per_run - y.ports_per_run);
  return { sizes: s.map((x) => x.ports_per_run), largest_vs_smallest: s.length >= 2 ? ratio(s.at(-1)!, s[0]!) : null };
}

const q = (x: Quantiles | null, k: 'p50' | 'p99'): string => (x && x.count > 0 ? String(x[k]) : '-');

export function table(o: Options, cols: readonly ModeFigures[], r: Ratios, sizes: readonly ModeFigures[], g: Growth): string {
  const rows: Array<[string, (x: ModeFigures) => string, string]> = [
    ['ports per second (end to end)', (x) => String(x.ports_per_s), 'ports_per_s'],
    ['  by run', (x) => x.ports_per_s_by_run.join(' '), ''],
    ['NB commit -> installed p50 (ms)', (x) => q(x.installed_ms, 'p50'), 'installed_p50'],
    ['NB commit -> installed p99 (ms)', (x) => q(x.installed_ms, 'p99'), 'installed_p99'],
    ['NB commit -> first reply p50 (ms)', (x) => q(x.first_reply_ms, 'p50'), 'first_reply_p50'],
    ['NB commit -> first reply p99 (ms)', (x) => q(x.first_reply_ms, 'p99'), ''],
    ['pings reached / sampled', (x) => `${x.pings.reached}/${x.pings.sampled}`, ''],
    ['NB writes per run', (x) => String(x.nb_writes_per_run), ''],
    ['NB write p50/p99 (ms)', (x) => `${x.nb_write_ms.p50}/${x.nb_write_ms.p99}`, ''],
    ['northd CPU ms/port', (x) => String(x.cpu_ms_per_port.northd), 'northd_cpu_per_port'],
    ['ovn-controllers CPU ms/port', (x) => String(x.cpu_ms_per_port.ovn_controllers), 'controllers_cpu_per_port'],
    ['northd+controllers CPU ms/port', (x) => String(x.cpu_ms_per_port.northd_plus_controllers), 'northd_plus_controllers_cpu_per_port'],
    ['  net of idle (ms/port)', (x) => String(x.cpu_ms_per_port_net_of_idle.northd_plus_controllers), ''],
    ['  idle: northd+ctrl CPU ms/s', (x) => String(round(x.idle_cpu_ms_per_s.northd + x.idle_cpu_ms_per_s.ovn_controllers, 1)), ''],
    ['NB / SB ovsdb-server CPU ms/port', (x) => `${x.cpu_ms_per_port.nb_ovsdb} / ${x.cpu_ms_per_port.sb_ovsdb}`, ''],
    ['checks', (x) => (x.problems.length === 0 ? 'ok' : `${x.problems.length} FAILED`), ''],
  ];
  const W = 14;
  const rc: Array<[string, Ratio | null]> = [['ours/heater', r.ours_vs_heater], ['ours/naive', r.ours_vs_naive], ['heater/naive', r.heater_vs_naive]];
  const shown = rc.filter(([, x]) => x !== null);
  const lines = [
    `OVN: ${o.vhosts} vhosts, ${o.ports} ports per run (round robin), ${o.rounds} round(s), ${cpus().length} cores; each run on a fresh logical switch.`,
    ...cols.map((c) => `  ${c.mode}: ${MODE_LABELS[c.mode]}`),
    '',
    `${'metric'.padEnd(34)}${cols.map((c) => c.mode.padStart(W)).join('')}${shown.map(([n]) => n.padStart(W)).join('')}`,
  ];
  for (const [label, get, key] of rows) {
    const cells = shown.map(([, x]) => {
      const v = key && x ? x[key] : undefined;
      return (v === undefined ? '' : v === null ? '-' : `${v}x`).padStart(W);
    });
    lines.push(`${label.padEnd(34)}${cols.map((c) => get(c).padStart(W)).join('')}${cells.join('')}`.trimEnd());
  }
  lines.push('', 'ratios: ours over the baseline (heater/naive: heater over naive). ports/s >1: faster; latency and CPU <1: lower.');
  if (sizes.length > 0) {
    lines.push('', 'ours by logical switch size (one run each):', `${'ports'.padStart(8)}${'ports/s'.padStart(10)}${'inst p50'.padStart(10)}${'inst p99'.padStart(10)}${'NB write'.padStart(10)}${'northd ms/p'.padStart(13)}${'ctrl ms/p'.padStart(11)}`);
    for (const s of sizes) {
      lines.push(`${String(s.ports_per_run).padStart(8)}${String(s.ports_per_s).padStart(10)}${String(s.installed_ms.p50).padStart(10)}${String(s.installed_ms.p99).padStart(10)}${String(s.nb_write_ms.p50).padStart(10)}${String(s.cpu_ms_per_port.northd).padStart(13)}${String(s.cpu_ms_per_port.ovn_controllers).padStart(11)}`);
    }
    if (g.largest_vs_smallest) lines.push(`largest over smallest: ${Object.entries(g.largest_vs_smallest).map(([k, v]) => `${k} ${v ?? '-'}x`).join(', ')}`);
  }
  return lines.join('\n');
}

function modeJson(x: ModeFigures | undefined): unknown {
  return x ? { way: MODE_LABELS[x.mode], ...x } : null;
}

export function jsonLine(o: Options, f: Partial<Record<Mode, ModeFigures>>, r: Ratios, sizes: readonly ModeFigures[], g: Growth, errors: readonly string[], ok: boolean, extra: Record<string, unknown>): string {
  return JSON.stringify({
    bench: 'ovn', ok,
    config: { vhosts: o.vhosts, ports: o.ports, rounds: o.rounds, modes: o.modes, sizes: o.sizes, chunk: o.chunk, vm_concurrency: o.vmConcurrency, ping: o.ping, ping_timeout_ms: o.pingTimeoutMs, timeout_ms: o.timeoutMs, cores: cpus().length, ...extra },
    ours: modeJson(f.ours), heater: modeJson(f.heater), naive: modeJson(f.naive), ratios: r,
    ours_by_switch_size: sizes.map((s) => modeJson(s)), growth: g,
    ...(errors.length > 0 ? { errors } : {}),
  });
}
