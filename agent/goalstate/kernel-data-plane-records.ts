// GoalState's neighbor records as OVSDB keeps them (external_ids of br-tun's Bridge row, one key
// per neighbor), the change a message makes to them, and the tunnels they need. Pure: no I/O.
import type { SourceTunnel } from '../overlay/index.js';
import { macBytes, parseMac } from '@merak/common';
import type { GoalStateNeighbor, GoalStateNeighborKey } from './contracts.js';

/** The prefix of a neighbor's key in br-tun's external_ids: merak-gs/<vni>/<ip>. */
export const RECORD_PREFIX = 'merak-gs/';

export const recordKey = (k: GoalStateNeighborKey): string => `${RECORD_PREFIX}${k.vni}/${k.ip}`;

/** <mac>,<hostIp>,<hostMac> (hostMac may be ''). */
export const recordValue = (n: GoalStateNeighbor): string => `${n.mac},${n.hostIp},${n.hostMac}`;

/** The neighbors a bridge's external_ids record; keys that do not parse are left out (and named). */
export function readRecords(externalIds: Readonly<Record<string, string>>): { neighbors: GoalStateNeighbor[]; unreadable: string[] } {
  const neighbors: GoalStateNeighbor[] = [];
  const unreadable: string[] = [];
  for (const [key, value] of Object.entries(externalIds)) {
    if (!key.startsWith(RECORD_PREFIX)) continue;
    const [vniText = '', ip = ''] = key.slice(RECORD_PREFIX.length).split('/');
    const [mac = '', hostIp = '', hostMac = '', ...rest] = value.split(',');
    const vni = Number(vniText);
    if (!Number.isInteger(vni) || vni <= 0 || ip === '' || mac === '' || hostIp === '' || rest.length > 0) {
      unreadable.push(key);
      continue;
    }
    neighbors.push({ vni, ip, mac, hostIp, hostMac });
  }
  return { neighbors, unreadable };
}

const keyOf = (k: GoalStateNeighborKey): string => `${k.vni}/${k.ip}`;

export interface RecordChange {
  /** The records after the change, by `vni/ip`. */
  readonly next: Map<string, GoalStateNeighbor>;
  /** external_ids to set (new or changed neighbors) and to remove. */
  readonly set: Record<string, string>;
  readonly remove: string[];
  /** Neighbors new or changed, and keys removed (for the flows). */
  readonly upserted: GoalStateNeighbor[];
  readonly removed: GoalStateNeighborKey[];
}

/**
 * Applies a GoalState change to the records: removes first, then upserts (the last upsert of a
 * key wins); what differs from the records before is the change (an upsert equal to its record is
 * none, nor is a key removed and upserted again as it was).
 */
export function changeRecords(records: ReadonlyMap<string, GoalStateNeighbor>, upsert: readonly GoalStateNeighbor[], remove: readonly GoalStateNeighborKey[]): RecordChange {
  const next = new Map(records);
  const touched = new Set<string>();
  for (const k of remove) {
    next.delete(keyOf(k));
    touched.add(keyOf(k));
  }
  for (const n of upsert) {
    next.set(keyOf(n), n);
    touched.add(keyOf(n));
  }
  const out: RecordChange = { next, set: {}, remove: [], upserted: [], removed: [] };
  for (const key of touched) {
    const before = records.get(key);
    const after = next.get(key);
    if (after === undefined) {
      if (before === undefined) continue;
      out.remove.push(recordKey(before));
      out.removed.push({ vni: before.vni, ip: before.ip });
    } else if (before === undefined || recordValue(before) !== recordValue(after)) {
      out.set[recordKey(after)] = recordValue(after);
      out.upserted.push(after);
    }
  }
  return out;
}

const unicastMac = (text: string): string => {
  const mac = parseMac(text);
  return mac !== undefined && ((macBytes(mac)[0] ?? 0) & 1) === 0 ? mac : '';
};

/**
 * The tunnels the records need: one per distinct (host, VNI) of a remote neighbor, so a tunnel
 * lasts while any neighbor needs it. The host's MAC (vswitchd's tunnel neighbor) is the first
 * unicast MAC a neighbor on it gives ('' = vswitchd resolves it by ARP).
 */
export function tunnelsFor(records: Iterable<GoalStateNeighbor>, isLocal: (hostIp: string) => boolean): SourceTunnel[] {
  const macOf = new Map<string, string>();
  const pairs = new Map<string, { remoteIp: string; vni: number }>();
  for (const n of records) {
    if (isLocal(n.hostIp)) continue;
    if (!macOf.get(n.hostIp)) macOf.set(n.hostIp, unicastMac(n.hostMac));
    pairs.set(`${n.hostIp}/${n.vni}`, { remoteIp: n.hostIp, vni: n.vni });
  }
  return [...pairs.values()].map((t) => ({ ...t, remoteMac: macOf.get(t.remoteIp) ?? '' }));
}
