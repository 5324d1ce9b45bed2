// What one run of a mode measured, and a mode's figures pooled over its runs.
import { type Quantiles, quantiles, round } from '../common/stats.js';
import type { CpuSample } from './cpu.js';
import type { Mode } from './options.js';

export interface RunResult {
  readonly mode: Mode;
  readonly label: string;
  /** 1.. for the rounds; 0 for the switch-size runs */
  readonly round: number;
  readonly ports: number;
  readonly installed: number;
  /** first NB write sent -> last port installed */
  readonly seconds: number;
  /** first NB write sent -> the last VM side done (NB writes and VMs; not the installs) */
  readonly makeSeconds: number;
  /** per installed port: its NB write committed -> ovn-installed */
  readonly latencyMs: number[];
  /** per NB transaction (ours: a chunk's; baselines: a port's): sent -> commit answered */
  readonly nbWriteMs: number[];
  readonly nbWrites: number;
  /** sampled ports: NB commit -> first ping reply */
  readonly firstReplyMs: number[];
  readonly pingsSampled: number;
  readonly pingFailures: string[];
  /** CPU seconds from just before the first NB write to the last port installed */
  readonly cpu: CpuSample;
  /** CPU seconds per second of the daemons while idle (2 s before the run, its switch made) */
  readonly idleCpuPerS: CpuSample;
  /** installed times taken from ovn-installed-ts (the rest: the monitor update's arrival) */
  readonly installedFromTs: number;
  readonly problems: string[];
}

export interface CpuPerPort {
  northd: number;
  ovn_controllers: number;
  northd_plus_controllers: number;
  nb_ovsdb: number;
  sb_ovsdb: number;
}

export interface ModeFigures {
  mode: Mode;
  /** label of the runs pooled (mode, or mode@size) */
  label: string;
  runs: number;
  ports_per_run: number;
  /** all ports over all the runs' first write -> last installed */
  ports_per_s: number;
  ports_per_s_by_run: number[];
  e2e_seconds_by_run: number[];
  make_seconds_by_run: number[];
  installed_ms: Quantiles;
  nb_write_ms: Quantiles;
  nb_writes_per_run: number;
  first_reply_ms: Quantiles | null;
  pings: { sampled: number; reached: number };
  /** CPU milliseconds per port */
  cpu_ms_per_port: CpuPerPort;
  /** the same less what the daemons burn idle over the run's duration (the idle rate measured before it) */
  cpu_ms_per_port_net_of_idle: CpuPerPort;
  /** the daemons' idle CPU, ms per second (mean over the runs) */
  idle_cpu_ms_per_s: { northd: number; ovn_controllers: number; nb_ovsdb: number; sb_ovsdb: number };
  cpu_s: { northd: number; ovn_controllers: number; nb_ovsdb: number; sb_ovsdb: number };
  installed_time_from_ts_pct: number;
  problems: string[];
}

export function figuresOf(mode: Mode, label: string, runs: readonly RunResult[]): ModeFigures {
  const sum = (f: (r: RunResult) => number): number => runs.reduce((s, r) => s + f(r), 0);
  const ports = sum((r) => r.ports);
  const seconds = sum((r) => r.seconds);
  const per = (s: number): number => (ports > 0 ? round((1000 * s) / ports, 2) : 0);
  const cpu = { northd: sum((r) => r.cpu.northd), controllers: sum((r) => r.cpu.controllers), nb: sum((r) => r.cpu.nb), sb: sum((r) => r.cpu.sb) };
  const idle = { northd: sum((r) => r.idleCpuPerS.northd * r.seconds), controllers: sum((r) => r.idleCpuPerS.controllers * r.seconds), nb: sum((r) => r.idleCpuPerS.nb * r.seconds), sb: sum((r) => r.idleCpuPerS.sb * r.seconds) };
  const net = (x: number, y: number): number => Math.max(0, x - y);
  const mean = (f: (r: RunResult) => number): number => (runs.length > 0 ? round((1000 * sum(f)) / runs.length, 1) : 0);
  const sampled = sum((r) => r.pingsSampled);
  const installed = sum((r) => r.installed);
  return {
    mode, label, runs: runs.length, ports_per_run: runs[0]?.ports ?? 0,
    ports_per_s: seconds > 0 ? round(ports / seconds) : 0,
    ports_per_s_by_run: runs.map((r) => (r.seconds > 0 ? round(r.ports / r.seconds) : 0)),
    e2e_seconds_by_run: runs.map((r) => round(r.seconds, 2)),
    make_seconds_by_run: runs.map((r) => round(r.makeSeconds, 2)),
    installed_ms: quantiles(runs.flatMap((r) => r.latencyMs)),
    nb_write_ms: quantiles(runs.flatMap((r) => r.nbWriteMs)),
    nb_writes_per_run: runs.length > 0 ? round(sum((r) => r.nbWrites) / runs.length) : 0,
    first_reply_ms: sampled > 0 ? quantiles(runs.flatMap((r) => r.firstReplyMs)) : null,
    pings: { sampled, reached: sum((r) => r.firstReplyMs.length) },
    cpu_ms_per_port: { northd: per(cpu.northd), ovn_controllers: per(cpu.controllers), northd_plus_controllers: per(cpu.northd + cpu.controllers), nb_ovsdb: per(cpu.nb), sb_ovsdb: per(cpu.sb) },
    cpu_ms_per_port_net_of_idle: {
      northd: per(net(cpu.northd, idle.northd)), ovn_controllers: per(net(cpu.controllers, idle.controllers)),
      northd_plus_controllers: per(net(cpu.northd, idle.northd) + net(cpu.controllers, idle.controllers)), nb_ovsdb: per(net(cpu.nb, idle.nb)), sb_ovsdb: per(net(cpu.sb, idle.sb)),
    },
    idle_cpu_ms_per_s: { northd: mean((r) => r.idleCpuPerS.northd), ovn_controllers: mean((r) => r.idleCpuPerS.controllers), nb_ovsdb: mean((r) => r.idleCpuPerS.nb), sb_ovsdb: mean((r) => r.idleCpuPerS.sb) },
    cpu_s: { northd: round(cpu.northd, 2), ovn_controllers: round(cpu.controllers, 2), nb_ovsdb: round(cpu.nb, 2), sb_ovsdb: round(cpu.sb, 2) },
    installed_time_from_ts_pct: installed > 0 ? round((100 * sum((r) => r.installedFromTs)) / installed) : 0,
    problems: runs.flatMap((r) => r.problems.map((p) => `${r.label}: ${p}`)),
  };
}
