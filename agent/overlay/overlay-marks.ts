// What the overlay reads back from OVSDB's port marks (a restarted agent's VLAN map and each
// control plane's tunnels), and the shapes of a source's tunnels. Pure: no I/O.
import { OWNER_KEY } from '../vm/ownership.js';
import type { PortRow } from '../vswitch/vswitch.js';
import { MARK, type Tunnel, type TunnelType, sourcesOf } from './tunnels.js';

/** The key of a tunnel in a source's set: one per (remote address, VNI). */
export const tunnelKey = (t: { readonly remoteIp: string; readonly vni: number }): string => `${t.remoteIp}/${t.vni}`;

export function vniOf(row: PortRow): number | undefined {
  const text = row.externalIds[MARK.vni];
  const vni = text === undefined ? NaN : Number(text);
  return Number.isInteger(vni) && vni > 0 ? vni : undefined;
}

/** Whether a port's VNI mark is ours: a port this vhost made, or one GoalState attached (whoever made it). */
export const ours = (row: PortRow, vhost: string): boolean => row.externalIds[OWNER_KEY] === vhost || row.externalIds[MARK.goalstate] === '1';

/** Our VNIs (VNI -> VLAN, from ports that carry a VNI) and the tags other ports use. */
export function readMap(rows: readonly PortRow[], vhost: string): { entries: Array<[number, number]>; reserved: number[] } {
  const entries: Array<[number, number]> = [];
  const reserved: number[] = [];
  for (const row of rows) {
    if (row.tag === undefined) continue;
    const vni = ours(row, vhost) ? vniOf(row) : undefined;
    if (vni === undefined) reserved.push(row.tag);
    else entries.push([vni, row.tag]);
  }
  return { entries, reserved };
}

/** A tunnel one source wants: to `remoteIp` for `vni`, `remoteMac` the peer's underlay MAC ('' = unknown). */
export interface SourceTunnel {
  readonly remoteIp: string;
  readonly vni: number;
  readonly remoteMac: string;
}

/** What a change did to the tunnel ports: the tunnels added and removed (any source's). */
export interface TunnelChange {
  readonly added: readonly Tunnel[];
  readonly removed: readonly Tunnel[];
}

export interface RecoveredSets {
  readonly coordinator: { type: TunnelType; tunnels: SourceTunnel[] };
  readonly goalstate: SourceTunnel[];
}

/**
 * Each source's tunnels found in OVSDB at start (the port marks; the peers' MACs are not
 * recorded), so that one source's first change after a restart keeps the other's ports.
 */
export function recoverSets(rows: readonly PortRow[], vhost: string): RecoveredSets {
  const out: RecoveredSets = { coordinator: { type: 'vxlan', tunnels: [] }, goalstate: [] };
  for (const row of rows) {
    if (row.externalIds[OWNER_KEY] !== vhost || row.externalIds[MARK.role] !== 'tunnel') continue;
    const t = row.externalIds[MARK.tunnelType];
    const vni = vniOf(row);
    const remoteIp = row.externalIds[MARK.remoteIp];
    if ((t !== 'vxlan' && t !== 'geneve') || vni === undefined || remoteIp === undefined) continue;
    const sources = sourcesOf(row.externalIds);
    if (sources.includes('goalstate') && t === 'vxlan') out.goalstate.push({ remoteIp, vni, remoteMac: '' });
    if (!sources.includes('coordinator')) continue;
    if (out.coordinator.tunnels.length === 0) out.coordinator.type = t;
    if (t === out.coordinator.type) out.coordinator.tunnels.push({ remoteIp, vni, remoteMac: '' });
  }
  return out;
}

export const keysOf = (tunnels: readonly SourceTunnel[]): string[] => tunnels.map((t) => `${t.remoteIp}/${t.vni}/${t.remoteMac}`);
