// What a VM's create asks of the GoalState host agent (agent/goalstate/): a VM in Alcor mode is
// ready once its port's GoalState is applied on this host. Declared here, by its consumer, so the
// VM stages do not import the layer above them.

/** When a port's GoalState was handled on this host (Date.now() milliseconds). */
export interface PortProgrammed {
  readonly receivedAtMs: number;
  readonly appliedAtMs: number;
}

/** What the VM create path asks of the GoalState host agent. */
export interface PortProgramming {
  /**
   * Resolves once port `portId`'s CREATE has been applied on this host by a GoalState received at
   * or after `sinceMs` (PENDING ports: once the background retry applied it). Rejects with a
   * GoalStateTimeoutError after `timeoutMs`, or when `signal` aborts.
   */
  programmed(portId: string, opts: { sinceMs: number; timeoutMs: number; signal?: AbortSignal }): Promise<PortProgrammed>;
}
