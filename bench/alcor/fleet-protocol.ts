// What the bench process and its fleet child say to each other over the IPC channel.

export type ReceiverKind = 'hollow' | 'null';

/** One port as a host holds it: for the hollow agent its snapshot record, for a null receiver what arrived. */
export interface HeldPort {
  readonly portId: string;
  /** The VNI the host applied it with (0 for a null receiver: it applies nothing). */
  readonly vni: number;
  readonly state: string;
}

export interface HostReport {
  readonly ports: readonly HeldPort[];
  readonly neighbors: number;
  /** sha256 of the host's neighbors as sorted canonical lines (neighborLine); '' for a null receiver. */
  readonly neighborDigest: string;
}

/** When a port's GoalState reached its host and was applied there (epoch ms); null: never. */
export type PortTiming = { readonly receivedAtMs: number; readonly appliedAtMs: number } | null;

export type ToFleet =
  | { readonly kind: 'start'; readonly receiver: ReceiverKind; readonly hosts: ReadonlyArray<{ readonly underlayIp: string }> }
  | { readonly kind: 'collect'; readonly ports: ReadonlyArray<{ readonly host: number; readonly portId: string }> }
  | { readonly kind: 'neighbors'; readonly hosts: readonly number[] }
  | { readonly kind: 'stop' };

export type FromFleet =
  | { readonly kind: 'started'; readonly ports: readonly number[] }
  | {
    readonly kind: 'collected'; readonly hosts: readonly HostReport[]; readonly timings: readonly PortTiming[];
    /** CPU the fleet used (user + system, ms) from its 'started' answer to this question: the hosts' share of the binds. */
    readonly cpuMs: number;
  }
  | { readonly kind: 'neighbors'; readonly lines: ReadonlyArray<readonly string[]> }
  | { readonly kind: 'failed'; readonly error: string };

/** A neighbor as one comparable line, the same on both sides of the check. */
export function neighborLine(n: { vni: number; ip: string; mac: string; hostIp: string }): string {
  return `${n.vni} ${n.ip} ${n.mac.toLowerCase()} ${n.hostIp}`;
}
