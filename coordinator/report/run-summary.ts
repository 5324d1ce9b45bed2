// How a run went, for its report: what was asked for, what was made, the step that failed (with
// the control plane's own answer when the failure was a call to it), the timeline up to the end,
// and what is left behind. A failed run has a report like any other, so a user sees this instead
// of one error line.

/** A call to a control plane (or an agent) that failed, as the other side answered it. */
export interface FailedCall {
  readonly system: 'alcor' | 'grpc' | 'ovsdb';
  /** What the call was for, in words ("subnet create"). */
  readonly operation: string;
  /** "POST /project/{project_id}/subnets"; '' where the system has no such thing. */
  readonly endpoint: string;
  readonly url: string;
  /** HTTP status (0: no answer), or the gRPC status name. */
  readonly status: number | string;
  /** The answer's body (cut to a few KB). */
  readonly body: string;
}

export interface RunFailure {
  /** The run's step that failed, in words ("network set-up"). */
  readonly step: string;
  /** The phase the scenario was in. */
  readonly phase: string;
  readonly message: string;
  readonly call?: FailedCall;
  /** What the control plane said it could not remove (teardown). */
  readonly leftovers?: readonly string[];
}

export interface TimelineEntry {
  /** ms after the scenario was accepted */
  readonly atMs: number;
  /** phase, agent-lost, agent-back, agent-stalled, failed, ... */
  readonly kind: string;
  readonly message: string;
}

export interface ControlPlaneObject {
  readonly kind: string;
  readonly name: string;
  readonly id: string;
}

export interface RunSummary {
  readonly outcome: 'ready' | 'failed';
  /** The scenario's error line ('' when ready). */
  readonly error: string;
  readonly requested: { readonly vms: number; readonly hosts: number; readonly vpcs: number; readonly subnets: number; readonly securityGroups: number; readonly routers: number };
  readonly failure?: RunFailure;
  readonly timeline: readonly TimelineEntry[];
  /** Made: VMs ready, control-plane objects recorded (those of a failed network set-up included). */
  readonly made: { readonly vms: number; readonly controlPlane: readonly ControlPlaneObject[] };
  /** A failed network set-up: what it had made and removed again before the run failed. */
  readonly rolledBack?: readonly ControlPlaneObject[];
  /** A failed run: what exists because of it, and how to remove it. */
  readonly leftBehind?: { readonly vms: number; readonly controlPlane: readonly ControlPlaneObject[]; readonly hint: string };
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
/** A line's worth of `s` (the JSON report has the whole). */
const clip = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n)}…` : s);

/** The summary as lines of text (the CLI's report). */
export function runSummaryLines(r: RunSummary): string[] {
  const q = r.requested;
  const f = r.failure;
  const lines = [
    // The failure's own lines carry the error when there is one.
    `Run: ${r.outcome}${r.error && !f ? ` (${r.error})` : ''}`,
    `  requested: ${q.vms} VMs on ${q.hosts} hosts, ${q.vpcs} VPCs, ${q.subnets} subnets, ${q.securityGroups} security groups, ${q.routers} routers`,
  ];
  if (f) {
    lines.push(`  failed at: ${f.step} (phase ${f.phase})`, `    error: ${clip(f.message, 300)}`);
    if (f.call) {
      lines.push(`    call: ${f.call.operation}: ${f.call.endpoint || f.call.system}${f.call.url ? ` (${f.call.url})` : ''} -> ${f.call.status === 0 ? 'no answer' : f.call.status}`);
      if (f.call.body) lines.push(`    body: ${clip(f.call.body, 300)}`);
    }
    for (const l of f.leftovers?.slice(0, 10) ?? []) lines.push(`    not removed: ${l}`);
  }
  const objects = (list: readonly ControlPlaneObject[]): string => (list.length === 0 ? 'nothing in the control plane' : list.map((o) => `${o.kind} ${o.name}`).join(', '));
  lines.push(`  made: ${r.made.vms} VMs; ${objects(r.made.controlPlane)}`);
  if (r.rolledBack) lines.push(`  rolled back: ${objects(r.rolledBack)}`);
  if (r.leftBehind) lines.push(`  left behind: ${r.leftBehind.vms} VMs; ${objects(r.leftBehind.controlPlane)}${r.leftBehind.hint ? ` (${r.leftBehind.hint})` : ''}`);
  if (r.timeline.length > 0) {
    lines.push('  timeline:');
    for (const e of r.timeline.slice(-30)) lines.push(`    +${seconds(e.atMs).padStart(8)}  ${e.kind.padEnd(13)} ${clip(e.message, 160)}`);
  }
  return lines;
}
