// Tunnel ports on br-tun, one per (remote vhost, VNI): what they are called, how they are marked,
// and the plan that turns the ports there are into the set wanted. Pure: no I/O.
import { parseIpv4 } from '../vm/ipv4.js';
import { AddPort, type Command, DelPort, SetPortTag } from '../vswitch/commands.js';
import { OWNER_KEY, type PortRow } from '../vswitch/vswitch.js';

export type TunnelType = 'vxlan' | 'geneve';

/** Port external_ids the agent writes on its tunnel and VM ports. */
export const MARK = {
  /** 'tunnel' on tunnel ports. */
  role: 'merak-role',
  /** The VNI a port carries (VM and tunnel ports): the VLAN map is recovered from it. */
  vni: 'merak-vni',
  remoteIp: 'merak-remote-ip',
  tunnelType: 'merak-tunnel-type',
} as const;

export interface Tunnel {
  readonly remoteIp: string;
  readonly vni: number;
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
  readonly tunnels: readonly Tunnel[];
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
}

/** The port for one tunnel: an access port on the VNI's VLAN, protected (no tunnel-to-tunnel flooding). */
export function tunnelPort(bridge: string, vhost: string, type: TunnelType, t: Tunnel, vlan: number): AddPort {
  return new AddPort({
    bridge,
    name: tunnelPortName(type, t.remoteIp, t.vni),
    type,
    tag: vlan,
    protected: true,
    options: { remote_ip: t.remoteIp, key: String(t.vni) },
    portExternalIds: { [OWNER_KEY]: vhost, [MARK.role]: 'tunnel', [MARK.vni]: String(t.vni), [MARK.remoteIp]: t.remoteIp, [MARK.tunnelType]: type },
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
  for (const t of input.tunnels) {
    const name = tunnelPortName(input.type, t.remoteIp, t.vni);
    wanted.add(name);
    const vlan = input.vlanOf(t.vni);
    const have = existing.get(name);
    if (!have) {
      adds.push(tunnelPort(input.bridge, input.vhost, input.type, t, vlan));
      added.push(name);
    } else if (have.tag !== vlan) {
      fixes.push(new SetPortTag(name, have.uuid, vlan));
    } else {
      unchanged++;
    }
  }
  const removes = input.existing.filter((p) => !wanted.has(p.name)).map((p) => new DelPort(input.bridge, p.name, p.uuid));
  return { commands: [...adds, ...fixes, ...removes], added, removed: removes.length, unchanged, retagged: fixes.length };
}
