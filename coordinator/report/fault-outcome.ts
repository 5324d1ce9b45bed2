// What one fault injected by a scenario (its `faults:` list) did, as the report shows it. The
// engine's fault injector fills it; the table, JSON and HTML reports render it (the HTML timeline
// marks each fault's span). Times are since the scenario was accepted, like the rest of the report.

export type FaultKind = 'agent-kill' | 'vhost-isolate' | 'ovs-restart' | 'control-plane-errors' | 'control-plane-delay';

export interface FaultOutcome {
  /** Position in the scenario's `faults` list, from 0. */
  readonly index: number;
  readonly kind: FaultKind;
  /** Vhosts it hit, by name (empty for the control-plane faults). */
  readonly targets: readonly string[];
  /** When it was applied (ms since accepted). */
  readonly startMs: number;
  /** When it was lifted or its target came back (ms since accepted); absent when it never ended. */
  readonly endMs?: number;
  /** VMs whose creation was due or in flight on its targets (or anywhere, for control-plane faults) while it lasted. */
  readonly vmsWaited: number;
  /** Of those, VMs that failed. */
  readonly vmsFailed: number;
  /** Of those, VMs the coordinator sent again. */
  readonly vmsResent: number;
  /** From its start until the run was healthy again (every target connected, nothing waiting on it); absent when never. */
  readonly healthyAfterMs?: number;
  /** One sentence of what was done, e.g. "SIGKILL to the agent of vh-3 (pid 1234); back after 1.2 s". */
  readonly detail: string;
}
