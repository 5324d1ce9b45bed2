// A scenario's report as data: counts, per-VM end-to-end and per-step latency quantiles, creations
// per second over time, failures with reasons, ping results. Rendered by table.ts and html.ts.

export interface VmOutcome {
  readonly id: string;
  readonly host: string;
  readonly ok: boolean;
  /** Scenario accepted -> VM ready, in ms (undefined when it failed). */
  readonly endToEndMs: number | undefined;
  /** When it became ready, ms after the scenario was accepted. */
  readonly readyAtMs: number | undefined;
  readonly steps: readonly { readonly step: string; readonly micros: number }[];
  readonly error?: { readonly code: string; readonly message: string; readonly step: string };
}

export interface PingOutcome {
  readonly src: string;
  readonly dst: string;
  readonly dstIp: string;
  readonly expect: 'reach' | 'isolated';
  readonly sent: number;
  readonly received: number;
  readonly rttAvgMs: number;
  readonly error: string;
}

export interface Quantiles {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export interface Report {
  readonly scenario: { readonly id: string; readonly name: string; readonly hosts: number; readonly provider: string };
  readonly generatedAt: string;
  readonly vms: { readonly requested: number; readonly ready: number; readonly failed: number };
  readonly latencyMs: { readonly endToEnd: Quantiles; readonly steps: Readonly<Record<string, Quantiles>> };
  /** Histogram of end-to-end latency: bucket upper bounds (ms) and counts. */
  readonly histogram: readonly { readonly leMs: number; readonly count: number }[];
  /** VMs that became ready in each second since the scenario was accepted. */
  readonly creationsPerSecond: readonly number[];
  readonly failures: { readonly byCode: Readonly<Record<string, number>>; readonly first: readonly { vm: string; host: string; code: string; step: string; message: string }[] };
  readonly ping?: {
    readonly pairsPassed: number;
    readonly pairsFailed: number;
    readonly isolationPassed: number;
    readonly isolationFailed: number;
    readonly rttMs: Quantiles;
    readonly failedPairs: readonly PingOutcome[];
    /** src -> dst -> received/sent, for small scenarios only. */
    readonly matrix?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  };
}

/** Largest value; unlike Math.max(...v) it does not overflow the stack on large arrays. */
export function maxOf(values: Iterable<number>, empty = 0): number {
  let m = -Infinity;
  for (const v of values) if (v > m) m = v;
  return m === -Infinity ? empty : m;
}

export function quantiles(values: number[]): Quantiles {
  if (values.length === 0) return { count: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  const v = Float64Array.from(values).sort();
  const q = (p: number): number => v[Math.min(v.length - 1, Math.ceil(p * v.length) - 1)]!;
  const round = (x: number): number => Math.round(x * 1000) / 1000;
  return { count: v.length, p50: round(q(0.5)), p90: round(q(0.9)), p99: round(q(0.99)), max: round(v[v.length - 1]!) };
}

const MAX_LISTED_FAILURES = 200;
const MATRIX_MAX_VMS = 20;

export function buildReport(input: {
  scenario: Report['scenario'];
  vms: readonly VmOutcome[];
  ping?: readonly PingOutcome[];
  now?: Date;
}): Report {
  const ready = input.vms.filter((v) => v.ok);
  const e2e = ready.map((v) => v.endToEndMs ?? 0);
  const stepValues = new Map<string, number[]>();
  for (const v of input.vms) for (const s of v.steps) (stepValues.get(s.step) ?? stepValues.set(s.step, []).get(s.step)!).push(s.micros / 1000);
  const steps: Record<string, Quantiles> = {};
  for (const [step, values] of stepValues) steps[step] = quantiles(values);

  const maxE2e = maxOf(e2e);
  const bounds: number[] = [];
  for (let b = 1; bounds.length === 0 || bounds[bounds.length - 1]! < maxE2e; b *= 2) bounds.push(b);
  const histogram = bounds.map((leMs, i) => ({ leMs, count: e2e.filter((x) => x <= leMs && (i === 0 || x > bounds[i - 1]!)).length }));

  const seconds = ready.length > 0 ? Math.floor(maxOf(ready.map((v) => v.readyAtMs ?? 0)) / 1000) + 1 : 0;
  const creationsPerSecond = new Array<number>(seconds).fill(0);
  for (const v of ready) creationsPerSecond[Math.floor((v.readyAtMs ?? 0) / 1000)]!++;

  const failed = input.vms.filter((v) => !v.ok);
  const byCode: Record<string, number> = {};
  for (const f of failed) byCode[f.error?.code ?? 'UNKNOWN'] = (byCode[f.error?.code ?? 'UNKNOWN'] ?? 0) + 1;

  let ping: Report['ping'];
  if (input.ping) {
    const reachPairs = input.ping.filter((p) => p.expect === 'reach');
    const isoPairs = input.ping.filter((p) => p.expect === 'isolated');
    const passed = (p: PingOutcome): boolean => (p.expect === 'reach' ? p.received > 0 : p.received === 0 && p.error === '');
    let matrix: Record<string, Record<string, string>> | undefined;
    const sources = new Set(input.ping.map((p) => p.src));
    if (sources.size <= MATRIX_MAX_VMS) {
      matrix = {};
      for (const p of input.ping) (matrix[p.src] ??= {})[p.dst] = `${p.received}/${p.sent}`;
    }
    ping = {
      pairsPassed: reachPairs.filter(passed).length,
      pairsFailed: reachPairs.filter((p) => !passed(p)).length,
      isolationPassed: isoPairs.filter(passed).length,
      isolationFailed: isoPairs.filter((p) => !passed(p)).length,
      rttMs: quantiles(reachPairs.filter((p) => p.received > 0).map((p) => p.rttAvgMs)),
      failedPairs: input.ping.filter((p) => !passed(p)).slice(0, MAX_LISTED_FAILURES),
      ...(matrix ? { matrix } : {}),
    };
  }

  return {
    scenario: input.scenario,
    generatedAt: (input.now ?? new Date()).toISOString(),
    vms: { requested: input.vms.length, ready: ready.length, failed: failed.length },
    latencyMs: { endToEnd: quantiles(e2e), steps },
    histogram,
    creationsPerSecond,
    failures: {
      byCode,
      first: failed.slice(0, MAX_LISTED_FAILURES).map((f) => ({ vm: f.id, host: f.host, code: f.error?.code ?? 'UNKNOWN', step: f.error?.step ?? '', message: f.error?.message ?? '' })),
    },
    ...(ping ? { ping } : {}),
  };
}
