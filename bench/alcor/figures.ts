// What one run of a mode measured, and the figures of a mode over its rounds.
import { type Quantiles, quantiles, round } from '../common/stats.js';
import type { Mode } from './options.js';

export interface PushTally {
  total: number;
  ok: number;
  /** Outcome → count, for every outcome but ok. */
  failed: Record<string, number>;
  firstErrors: string[];
}

export interface ModeRun {
  readonly mode: Mode;
  readonly round: number;
  readonly postMs: number[];
  readonly putMs: number[];
  readonly bindToReceivedMs: number[];
  readonly bindToAppliedMs: number[];
  readonly pushes: PushTally;
  readonly bindSeconds: number;
  /** CPU seconds of the bench process (server, NCM's pushes, REST client) while binding. */
  readonly serverCpuSeconds: number;
  /** CPU seconds of the fleet while binding (0 for push-off: no fleet). */
  readonly fleetCpuSeconds: number;
  readonly restFailures: number;
  readonly problems: string[];
}

export interface ModeFigures {
  mode: Mode;
  rounds: number;
  put_ms: Quantiles;
  post_ms: Quantiles;
  bind_to_received_ms: Quantiles | null;
  bind_to_applied_ms: Quantiles | null;
  pushes: number;
  pushes_per_bind: number;
  pushes_per_s: number;
  binds_per_s: number;
  bind_seconds: number;
  server_cpu_s: number;
  fleet_cpu_s: number;
  /** The hosts' CPU per push: what taking one push costs a host (µs). */
  fleet_cpu_us_per_push: number | null;
  failures: { rest: number; pushes: number; push_outcomes: Record<string, number> };
  problems: string[];
}

/** A mode's runs pooled: every sample in the quantiles, pushes per second over the summed bind time. */
export function figuresOf(mode: Mode, runs: readonly ModeRun[]): ModeFigures {
  const all = <T>(f: (r: ModeRun) => readonly T[]): T[] => runs.flatMap(f);
  const pushes = runs.reduce((s, r) => s + r.pushes.total, 0);
  const seconds = runs.reduce((s, r) => s + r.bindSeconds, 0);
  const binds = runs.reduce((s, r) => s + r.putMs.length, 0);
  const outcomes: Record<string, number> = {};
  for (const r of runs) for (const [k, n] of Object.entries(r.pushes.failed)) outcomes[k] = (outcomes[k] ?? 0) + n;
  const pushing = mode !== 'push-off';
  return {
    mode,
    rounds: runs.length,
    put_ms: quantiles(all((r) => r.putMs)),
    post_ms: quantiles(all((r) => r.postMs)),
    bind_to_received_ms: pushing ? quantiles(all((r) => r.bindToReceivedMs)) : null,
    bind_to_applied_ms: pushing ? quantiles(all((r) => r.bindToAppliedMs)) : null,
    pushes,
    pushes_per_bind: binds > 0 ? round(pushes / binds, 2) : 0,
    pushes_per_s: seconds > 0 ? Math.round(pushes / seconds) : 0,
    binds_per_s: seconds > 0 ? Math.round(binds / seconds) : 0,
    bind_seconds: round(seconds, 2),
    server_cpu_s: round(runs.reduce((s, r) => s + r.serverCpuSeconds, 0), 2),
    fleet_cpu_s: round(runs.reduce((s, r) => s + r.fleetCpuSeconds, 0), 2),
    fleet_cpu_us_per_push: pushing && pushes > 0 ? round((runs.reduce((s, r) => s + r.fleetCpuSeconds, 0) * 1e6) / pushes, 1) : null,
    failures: { rest: runs.reduce((s, r) => s + r.restFailures, 0), pushes: Object.values(outcomes).reduce((s, n) => s + n, 0), push_outcomes: outcomes },
    problems: runs.flatMap((r) => r.problems.map((p) => `${r.mode} round ${r.round}: ${p}`)),
  };
}
