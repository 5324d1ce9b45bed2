// The seams of the GoalState host agent (docs/goalstate.md): what it needs of the vhost's data
// plane (the kernel one programs OVS, the hollow one records). What it offers the VM create path
// is declared by that path: agent/vm/port-programming.ts.

/** A remote port as a GoalState neighbor state describes it, validated. */
export interface GoalStateNeighbor {
  readonly vni: number;
  readonly ip: string;
  readonly mac: string;
  /** The underlay address of the host holding the port (Alcor's node data-path-ip). */
  readonly hostIp: string;
  /** That host's MAC as Alcor knows it ('' = unknown): vswitchd's tunnel neighbor for hostIp. */
  readonly hostMac: string;
}

export interface GoalStateNeighborKey {
  readonly vni: number;
  readonly ip: string;
}

/** What the GoalState host agent asks of the vhost's data plane. Calls come one at a time. */
export interface GoalStateDataPlane {
  /** One of this vhost's own addresses: a neighbor there is local, nothing to program. */
  isLocal(hostIp: string): boolean;
  /**
   * Makes OVS port `tap` an access port of the VNI's local VLAN on br-int, recorded on the port so
   * a restarted agent finds it. 'absent' = OVSDB has no port of that name (yet).
   */
  attachPort(tap: string, vni: number): Promise<'attached' | 'absent'>;
  /** Undoes attachPort (tag and record); a port already gone is not an error. */
  detachPort(tap: string): Promise<void>;
  /**
   * Changes the GoalState neighbors: their flows (ARP answered locally, unicast into the tunnel to
   * their host) and the tunnels they need, reference-counted (a tunnel to (hostIp, vni) exists
   * while a neighbor needs it). Recorded in OVS so that a restarted agent finds them.
   */
  updateNeighbors(upsert: readonly GoalStateNeighbor[], remove: readonly GoalStateNeighborKey[]): Promise<void>;
  /** What an earlier run of the agent applied, read back from OVS (at start, before any message). */
  recover(): Promise<{ readonly ports: ReadonlyArray<{ tap: string; vni: number }>; readonly neighbors: readonly GoalStateNeighbor[] }>;
}
