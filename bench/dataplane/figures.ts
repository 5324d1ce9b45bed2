// What one run measures: its options and each mode's figures, as the table and the JSON line show them.

export type Mode = 'neighbors' | 'flood';

export interface Options {
  hosts: number;
  vms: number;
  pairs: number;
  count: number;
  timeoutMs: number;
  keep: boolean;
}

export interface Spread {
  min: number;
  median: number;
  max: number;
}

export interface LoadFigures {
  atStart: number;
  mean: number;
  max: number;
  cpuBusyPct: number;
  cpuBusyPctBefore: number;
}

export interface NeighborTableFigures {
  coordinatorSlowestMs: number | null;
  coordinatorWallMs: number | null;
  coordinatorFlowMods: number | null;
  agentMs: Spread | null;
  agentUpdates: number;
  coordinatorUpdates: number;
}

export interface ModeFigures {
  dataplane: Mode;
  pairs: { tested: number; distinct: number; passed: number; failed: number; crossHost: number };
  firstReplyMs: { count: number; p50: number; p99: number; max: number };
  rttMs: { p50: number; p99: number };
  vms: { requested: number; ready: number; failed: number; namespaces: number };
  seconds: { emulationUp: number; network: number | null; lastVmReady: number; test: number | null };
  flowsPerVhost: Spread & { expected: Spread; mismatched: number };
  tunnelsPerVhost: Spread;
  neighborTables: NeighborTableFigures;
  load: LoadFigures;
  agentsLost: number;
  /** Not failures of the bench, but what a reader of the figures must know. */
  notes: string[];
  failedPairsSample: string[];
  problems: string[];
}

export const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { min: 0, median: 0, max: 0 };
  const v = [...values].sort((a, b) => a - b);
  return { min: v[0]!, median: v[Math.floor((v.length - 1) / 2)]!, max: v[v.length - 1]! };
}
