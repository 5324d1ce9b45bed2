// Tunnel ports on br-tun, one per (remote vhost, VNI): what they are called, how they are marked,
// and the plan that turns the ports there are into the set wanted. Pure: no I/O.
import { MerakError, formatIpv4, parseIpv4 } from '@merak/common';
import { AddPort, type Command, DelPort, MutateExternalIds, SetPortTag } from '../vswitch/commands.js';
import { OWNER_KEY } from '../vm/ownership.js';
import type { PortRow } from '../vswitch/vswitch.js';

export type TunnelType = 'vxlan' | 'geneve';

/** The whole set of overlay tunnels a vhost should have (SetTunnels replaces what it had). */
export interface TunnelConfig {
  readonly type: TunnelType;
  /** Flood and learn instead of the neighbor table's flows (a baseline). */
  readonly flood: boolean;
  readonly tunnels: readonly { remoteIp: string; vni: number; remoteMac: string }[];
  /** More of the set, packed per VNI as the coordinator sends it (none of them in `tunnels`). */
  readonly groups?: readonly PackedTunnels[];
}

/** Tunnels to several peers of one VNI: their addresses as numbers, sorted, each once; their MACs in the same order, 6 bytes each (all zero: unknown), or none known. */
export interface PackedTunnels {
  readonly vni: number;
  readonly ips: Uint32Array;
  readonly macs: Uint8Array | undefined;
}

/** Every tunnel of the set, the groups unpacked (what the kernel backend programs). */
export function allTunnels(config: TunnelConfig): TunnelConfig['tunnels'] {
  if (!config.groups?.length) return config.tunnels;
  const out = [...config.tunnels];
  for (const g of config.groups) {
    g.ips.forEach((ip, k) => {
      const mac = g.macs?.subarray(6 * k, 6 * k + 6);
      out.push({ remoteIp: formatIpv4(ip), vni: g.vni, remoteMac: mac && mac.some((b) => b !== 0) ? [...mac].map((b) => b.toString(16).padStart(2, '0')).join(':') : '' });
    });
  }
  return out;
}

/** How many tunnels the set has (without unpacking it). */
export function tunnelCount(config: TunnelConfig): number {
  let n = config.tunnels.length;
  for (const g of config.groups ?? []) n += g.ips.length;
  return n;
}

/** A change of the coordinator's set (UpdateTunnels): `type` and `flood` must be the set's. */
export interface TunnelDelta {
  readonly type: TunnelType;
  readonly flood: boolean;
  /** Added, or replacing the tunnel with the same (remoteIp, vni). */
  readonly upsert: readonly { remoteIp: string; vni: number; remoteMac: string }[];
  /** Taken out; a key not in the set is not an error. */
  readonly remove: readonly { remoteIp: string; vni: number }[];
}

/**
 * A delta cannot be applied to the set this agent holds: none was set since it started, or the
 * delta's type or flood is not the set's. Nothing changed; the coordinator sends the whole set.
 */
export class TunnelSetUnknownError extends MerakError {
  constructor(reason: string) {
    super('FAILED_PRECONDITION', `tunnel delta refused, send the whole set (SetTunnels): ${reason}`, { context: { reason } });
  }
}

/** Why a delta does not fit the set held (`held`: the last whole set's type and flood; undefined = none since start). */
export function deltaMismatch(held: { type: TunnelType; flood: boolean } | undefined, delta: Pick<TunnelDelta, 'type' | 'flood'>): TunnelSetUnknownError | undefined {
  if (held === undefined) return new TunnelSetUnknownError('no whole set was applied since the agent started');
  if (held.type !== delta.type) return new TunnelSetUnknownError(`the set is ${held.type}, the delta ${delta.type}`);
  if (held.flood !== delta.flood) return new TunnelSetUnknownError(`the set has flood ${String(held.flood)}, the delta ${String(delta.flood)}`);
  return undefined;
}

export interface TunnelOutcome {
  readonly tunnels: number;
  readonly added: number;
  readonly removed: number;
}

/** Port external_ids the agent writes on its tunnel and VM ports. */
export const MARK = {
  /** 'tunnel' on tunnel ports. */
  role: 'merak-role',
  /** The VNI a port carries (VM and tunnel ports): the VLAN map is recovered from it. */
  vni: 'merak-vni',
  remoteIp: 'merak-remote-ip',
  tunnelType: 'merak-tunnel-type',
  /**
   * Which control planes want a tunnel port, when not the coordinator alone ('goalstate',
   * 'coordinator,goalstate'); absent = the coordinator's (every port made before GoalState).
   */
  sources: 'merak-tunnel-for',
  /** '1' on a port GoalState attached (a VNI's access port, whoever made the port). */
  goalstate: 'merak-goalstate',
} as const;

/** The control planes that program tunnels: the coordinator (SetTunnels) and Alcor's GoalState. */
export type TunnelSource = 'coordinator' | 'goalstate';

/** The sources mark for a port wanted by `sources`; undefined = the coordinator alone (no mark). */
export function sourcesMark(sources: readonly TunnelSource[] | undefined): string | undefined {
  if (sources === undefined) return undefined;
  const sorted = [...new Set(sources)].sort();
  return sorted.length === 1 && sorted[0] === 'coordinator' ? undefined : sorted.join(',');
}

/** The sources a port's marks name (no mark: the coordinator). */
export function sourcesOf(externalIds: Readonly<Record<string, string>>): TunnelSource[] {
  const mark = externalIds[MARK.sources];
  if (mark === undefined) return ['coordinator'];
  return mark.split(',').filter((s): s is TunnelSource => s === 'coordinator' || s === 'goalstate');
}

export interface Tunnel {
  readonly remoteIp: string;
  readonly vni: number;
}

/** A tunnel as planned: its own type (default: the plan's) and the sources that want it (default: the coordinator). */
export interface PlannedTunnel extends Tunnel {
  readonly type?: TunnelType;
  readonly sources?: readonly TunnelSource[];
}

/**
 * A name that says what the port is and fits Linux's 15 bytes: 'v' (VXLAN) or 'g' (Geneve), the
 * remote IPv4 address in 8 hex digits, the VNI in 6 (e.g. 198.51.100.2 VNI 1001 → vc63364020003e9).
 */
export function tunnelPortName(type: TunnelType, remoteIp: string, vni: number): string {
  const ip = parseIpv4(remoteIp);
  if (ip === undefined) throw new Error(`tunnelPortName: '${remoteIp}' is not an IPv4 address`);
  return `${type === 'vxlan' ? 'v' : 'g'}${ip.toString(16).padStart(8, '0')}${vni.toString(16).padStart(6, '0')}`;
}

export interface TunnelPlanInput {
  readonly bridge: string;
  readonly vhost: string;
  readonly type: TunnelType;
  /** The whole set wanted (no duplicates). */
  readonly tunnels: readonly PlannedTunnel[];
  /** This vhost's tunnel ports as they are (listed by their marks). */
  readonly existing: readonly PortRow[];
  /** The local VLAN of each wanted VNI (already assigned). */
  vlanOf(vni: number): number;
}

export interface TunnelPlan {
  readonly commands: readonly Command[];
  /** Names of the ports to add (vswitchd must give each an ofport). */
  readonly added: readonly string[];
  readonly removed: number;
  readonly unchanged: number;
  /** Ports kept but given their VNI's VLAN again (their tag was not it). */
  readonly retagged: number;
  /** Ports kept whose sources mark changed (another control plane now wants them, or no longer). */
  readonly remarked: number;
}

/** The port for one tunnel: an access port on the VNI's VLAN, protected (no tunnel-to-tunnel flooding). */
export function tunnelPort(bridge: string, vhost: string, type: TunnelType, t: Tunnel, vlan: number, sources?: readonly TunnelSource[]): AddPort {
  const mark = sourcesMark(sources);
  return new AddPort({
    bridge,
    name: tunnelPortName(type, t.remoteIp, t.vni),
    type,
    tag: vlan,
    protected: true,
    options: { remote_ip: t.remoteIp, key: String(t.vni) },
    portExternalIds: {
      [OWNER_KEY]: vhost, [MARK.role]: 'tunnel', [MARK.vni]: String(t.vni), [MARK.remoteIp]: t.remoteIp, [MARK.tunnelType]: type,
      ...(mark !== undefined && { [MARK.sources]: mark }),
    },
  });
}

/** Adds what is missing, removes what is not wanted (only ports marked as ours), keeps the rest. */
export function planTunnels(input: TunnelPlanInput): TunnelPlan {
  const existing = new Map(input.existing.map((p) => [p.name, p]));
  const wanted = new Set<string>();
  const adds: Command[] = [];
  const fixes: Command[] = [];
  const added: string[] = [];
  let unchanged = 0;
  let remarked = 0;
  for (const t of input.tunnels) {
    const type = t.type ?? input.type;
    const name = tunnelPortName(type, t.remoteIp, t.vni);
    wanted.add(name);
    const vlan = input.vlanOf(t.vni);
    const have = existing.get(name);
    if (!have) {
      adds.push(tunnelPort(input.bridge, input.vhost, type, t, vlan, t.sources));
      added.push(name);
      continue;
    }
    const mark = sourcesMark(t.sources);
    const markChanged = have.externalIds[MARK.sources] !== mark;
    if (markChanged) {
      fixes.push(new MutateExternalIds('Port', name, mark === undefined ? {} : { [MARK.sources]: mark }, mark === undefined ? [MARK.sources] : []));
      remarked++;
    }
    if (have.tag !== vlan) fixes.push(new SetPortTag(name, have.uuid, vlan));
    else if (!markChanged) unchanged++;
  }
  const removes = input.existing.filter((p) => !wanted.has(p.name)).map((p) => new DelPort(input.bridge, p.name, p.uuid));
  const retagged = fixes.filter((c) => c instanceof SetPortTag).length;
  return { commands: [...adds, ...fixes, ...removes], added, removed: removes.length, unchanged, retagged, remarked };
}
