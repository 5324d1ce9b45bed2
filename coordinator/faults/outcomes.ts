// What each injected fault did, for the report, from what the injector recorded (when, where,
// when its targets came back) and the VMs' stored results (when each finished, how).
import type { FaultKind, FaultOutcome } from '../report/fault-outcome.js';
import type { VmResultRow } from '../store/store.js';

/** One fault as the injector saw it; times in ms since the scenario was accepted. */
export interface FaultRecord {
  readonly index: number;
  readonly kind: FaultKind;
  targets: string[];
  /** When it was applied; undefined = it never started. */
  startMs: number | undefined;
  /** When it was lifted or its targets were back; undefined = not (yet). */
  endMs: number | undefined;
  /** Per target, when it registered again after the fault (its VMs then went out again). */
  readonly backMs: Map<string, number>;
  readonly details: string[];
  /** Why it did not start or could not be applied to every target. */
  problem: string | undefined;
}

/** The plan's view the outcomes need: each VM's vhost and scheduled start (ms since accepted). */
export interface PlanView {
  readonly total: number;
  readonly hosts: readonly string[];
  readonly hostOf: ArrayLike<number>;
  readonly offsets: ArrayLike<number>;
}

export function faultOutcomes(records: readonly FaultRecord[], plan: PlanView, rows: Iterable<VmResultRow>, nowMs: number): FaultOutcome[] {
  // Each VM's result time and whether it failed (NaN: no result).
  const at = new Float64Array(plan.total).fill(Number.NaN);
  const failed = new Uint8Array(plan.total);
  for (const r of rows) {
    if (r.vmIndex >= plan.total) continue;
    at[r.vmIndex] = r.atMs;
    failed[r.vmIndex] = r.phase === 'failed' ? 1 : 0;
  }
  return records.map((f) => outcomeOf(f, plan, at, failed, nowMs));
}

function outcomeOf(f: FaultRecord, plan: PlanView, at: Float64Array, failed: Uint8Array, nowMs: number): FaultOutcome {
  const detail = [...f.details, ...(f.problem ? [f.problem] : [])].join('; ');
  if (f.startMs === undefined) return { index: f.index, kind: f.kind, targets: f.targets, startMs: nowMs, vmsWaited: 0, vmsFailed: 0, vmsResent: 0, detail: detail || 'not started' };
  const start = f.startMs;
  const end = f.endMs ?? nowMs;
  const onTargets = f.targets.length > 0;
  const targetOf = new Int32Array(plan.hosts.length).fill(-1);
  plan.hosts.forEach((h, i) => { if (f.targets.includes(h)) targetOf[i] = i; });
  let waited = 0;
  let lost = 0;
  let resent = 0;
  let unfinished = 0;
  // The first VM finished after the fault ended: creation flows again.
  let firstAfter = Number.POSITIVE_INFINITY;
  for (let i = 0; i < plan.total; i++) {
    const h = plan.hostOf[i]!;
    if (onTargets && targetOf[h]! < 0) continue;
    const t = at[i]!;
    if (t >= end && t < firstAfter) firstAfter = t;
    // Waited: due by the fault's end and not finished before it started.
    if (plan.offsets[i]! > end || t < start) continue;
    waited++;
    if (Number.isNaN(t)) {
      unfinished++;
      lost++;
      continue;
    }
    if (failed[i]) lost++;
    const back = onTargets ? f.backMs.get(plan.hosts[h]!) : undefined;
    if (back !== undefined && t >= back) resent++;
  }
  const healthyAt = f.endMs === undefined || unfinished > 0 ? undefined : waited === 0 || firstAfter === Number.POSITIVE_INFINITY ? f.endMs : firstAfter;
  return {
    index: f.index, kind: f.kind, targets: f.targets, startMs: start, ...(f.endMs !== undefined ? { endMs: f.endMs } : {}),
    vmsWaited: waited, vmsFailed: lost, vmsResent: resent, ...(healthyAt !== undefined ? { healthyAfterMs: Math.max(0, healthyAt - start) } : {}), detail,
  };
}
