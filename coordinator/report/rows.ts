// Rows and lines the table and the HTML page both show, built once so they say the same thing.
import type { FaultOutcome } from './fault-outcome.js';
import type { VhostFigures } from './figures.js';
import type { Report } from './report.js';

const s1 = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;

/** "250/s mean over 0.20 s (first VM started -> last ready), peak 300/s per 50 ms". */
export function rateLine(r: Report): string {
  const c = r.creationRate;
  if (c.spanMs === undefined || c.peakWindowMs === undefined) return `creations per second: mean ${c.mean}, peak ${c.peak}`;
  if (r.vms.ready === 0) return 'creations per second: none became ready';
  return `creations per second: mean ${c.mean} over ${s1(c.spanMs)} (first VM started -> last ready), peak ${c.peak} (most ready within ${c.peakWindowMs} ms)`;
}

export const VHOST_HEADER = ['vhost', 'VMs', 'ready', 'failed', 'p50 ms', 'p99 ms', 'slowest step (mean ms)'];

export function vhostRow(v: VhostFigures): string[] {
  return [v.host, String(v.vms), String(v.ready), String(v.failed), v.p50Ms.toFixed(2), v.p99Ms.toFixed(2), v.slowestStep ? `${v.slowestStep} (${v.slowestStepMeanMs.toFixed(2)})` : '-'];
}

export const FAULT_HEADER = ['#', 'fault', 'targets', 'from', 'to', 'VMs waited', 'failed', 'resent', 'healthy after', 'what it did'];

export function faultRow(f: FaultOutcome): string[] {
  const targets = f.targets.length === 0 ? 'control plane' : f.targets.length > 3 ? `${f.targets.slice(0, 3).join(', ')} +${f.targets.length - 3}` : f.targets.join(', ');
  return [
    String(f.index), f.kind, targets, `+${s1(f.startMs)}`, f.endMs === undefined ? 'never ended' : `+${s1(f.endMs)}`,
    String(f.vmsWaited), String(f.vmsFailed), String(f.vmsResent), f.healthyAfterMs === undefined ? 'never' : s1(f.healthyAfterMs), f.detail,
  ];
}

/** The time a fault's span is drawn to when it never ended: the end of the run's timeline. */
export const faultEndMs = (f: FaultOutcome, runEndMs: number): number => f.endMs ?? Math.max(runEndMs, f.startMs);

/** Control-plane errors, grouped by endpoint and reason: [endpoint, reason, count]. */
export function controlPlaneErrorRows(r: Report): string[][] {
  return (r.controlPlane?.endpoints ?? []).flatMap((e) => (e.errorReasons ?? []).map((x) => [e.endpoint, x.reason, String(x.count)]));
}
