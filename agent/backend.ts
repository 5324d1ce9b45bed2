// What main.ts wires into the service: the kernel backend (netlink + OVSDB) or the hollow one.
import type { GoalStateDataPlane } from './goalstate/contracts.js';
import type { GoalStateSlot } from './goalstate/slot.js';
import type { NeighborChange, NeighborOutcome, TunnelConfig, TunnelDelta, TunnelOutcome } from './overlay/index.js';
import type { ReadinessCheck } from '@merak/common';
import type { PingOptions, PingTargetResult } from './probe/pinger.js';
import type { VmExecutor } from './vm/executor.js';
import type { Exclusive } from './vm/port-restore.js';

/** The OVS and interface part of Info: what the backend finds on its host. */
export interface HostInfo {
  readonly addresses: readonly { interface: string; address: string; mac: string }[];
  readonly ovsVersion: string;
  readonly datapathType: string;
  readonly bridge: string;
}

export interface Backend {
  readonly executor: VmExecutor;
  readonly checks: readonly ReadinessCheck[];
  /** The tunnel endpoint the backend found (e.g. on its underlay interface); undefined = take --underlay-ip. */
  readonly underlayIp: string | undefined;
  /** The MAC that answers for underlayIp (peers set it as a static tunnel neighbor); undefined = unknown. */
  readonly underlayMac: string | undefined;
  hostInfo(): Promise<HostInfo>;
  ping(vm: string, targets: readonly string[], opts: PingOptions): Promise<PingTargetResult[]>;
  setTunnels(config: TunnelConfig): Promise<TunnelOutcome>;
  /** A delta of the set; TunnelSetUnknownError when it does not fit the set held (nothing changed). */
  updateTunnels(delta: TunnelDelta): Promise<TunnelOutcome>;
  updateNeighbors(change: NeighborChange): Promise<NeighborOutcome>;
  /** Sets the underlay interface down or up (a vhost-isolate fault); undefined = no underlay. */
  readonly setUnderlayUp: ((up: boolean) => Promise<void>) | undefined;
  /** Watches for ovs-vswitchd restarts and restores what they took (VMs' internal ports); none for the hollow backend. */
  startPortRestorer?(exclusive: Exclusive): void;
  /** What the executor asks when a VM waits for its port's GoalState; filled in by the agent with --goalstate. */
  readonly goalState: GoalStateSlot;
  /** The data plane GoalState programs; `ownIps`: this host's addresses (a neighbor there is local). */
  goalStateDataPlane(ownIps: ReadonlySet<string>): GoalStateDataPlane;
  close(): Promise<void>;
}
