// The standalone data plane's only decision: which tunnels each vhost needs. A vhost needs one
// tunnel per (other vhost, VNI) that both have VMs in: a full mesh per VPC over the vhosts that
// host it, so broadcast (ARP) reaches every VM of the VPC and nothing else. Pure: no I/O.
//
// Kept per VNI, not per vhost: a VNI on n vhosts is n endpoints (one list shared by its members),
// where the vhosts' sets are n * (n - 1) tunnels. A vhost's set is made from the lists when it is
// sent, so nothing of size n² is held: packed (packMembers: each VNI's addresses and MACs as bytes,
// once) and each set two copies of those bytes per VNI (tunnelGroupsOf), not n messages to encode.
// When the members change, membersDiff says what each member gains and loses (what a delta carries).
import { formatIpv4, macBytes, parseIpv4 } from '@merak/common';

export interface TunnelSpec {
  readonly remoteIp: string;
  readonly vni: number;
  /** The peer's underlay MAC ('' = unknown): the agent makes it a static tunnel neighbor. */
  readonly remoteMac: string;
}

/** One VNI's members: each vhost with an endpoint, as its peers' tunnels name it. */
export interface VniMembers {
  /** Sorted by remoteIp; `hosts[i]` is the vhost of `tunnels[i]`. */
  readonly tunnels: readonly TunnelSpec[];
  readonly hosts: readonly string[];
}

/**
 * `vnisByHost`: the VNIs each vhost has VMs in (over every live scenario); `underlayIp`: each
 * vhost's tunnel endpoint ('' or missing = none: it is left out, and its VMs reach only VMs on
 * the same vhost). Returns each VNI's members.
 */
export function vniMembers(
  vnisByHost: ReadonlyMap<string, ReadonlySet<number>>,
  underlayIp: (host: string) => string | undefined,
  underlayMac: (host: string) => string | undefined = () => undefined,
): Map<number, VniMembers> {
  const byVni = new Map<number, Array<{ host: string; tunnel: TunnelSpec }>>();
  for (const [host, vnis] of vnisByHost) {
    const remoteIp = underlayIp(host);
    if (!remoteIp) continue;
    const remoteMac = underlayMac(host) ?? '';
    for (const vni of vnis) (byVni.get(vni) ?? byVni.set(vni, []).get(vni)!).push({ host, tunnel: { remoteIp, vni, remoteMac } });
  }
  const out = new Map<number, VniMembers>();
  for (const [vni, list] of byVni) {
    list.sort((a, b) => compareIp(a.tunnel.remoteIp, b.tunnel.remoteIp) || compareIp(a.host, b.host));
    out.set(vni, { tunnels: list.map((m) => m.tunnel), hosts: list.map((m) => m.host) });
  }
  return out;
}

/** `host`'s whole tunnel set: every other member of each of its VNIs, sorted by VNI then address. */
export function tunnelSetOf(host: string, vnis: ReadonlySet<number>, members: ReadonlyMap<number, VniMembers>): TunnelSpec[] {
  const set: TunnelSpec[] = [];
  for (const vni of [...vnis].sort((a, b) => a - b)) {
    const m = members.get(vni);
    if (!m) continue;
    // The member objects are shared by every vhost's set: a set costs its array, not its entries.
    for (let i = 0; i < m.hosts.length; i++) if (m.hosts[i] !== host) set.push(m.tunnels[i]!);
  }
  return set;
}

/** A VNI's members as a set's groups carry them: each one's address (4 bytes), MAC (6 bytes; none at all when no member's is known), and where it is. */
export interface PackedMembers {
  readonly ips: Buffer;
  readonly macs: Buffer;
  readonly index: ReadonlyMap<string, number>;
}

/** A set's tunnels of one VNI, packed (agentV1.TunnelGroup). */
export interface TunnelGroupSpec {
  readonly vni: number;
  readonly remoteIpv4: Buffer;
  readonly remoteMac: Buffer;
}

export function packMembers(m: VniMembers): PackedMembers {
  const n = m.hosts.length;
  const ips = Buffer.alloc(4 * n);
  const withMac = m.tunnels.some((t) => t.remoteMac !== '');
  const macs = Buffer.alloc(withMac ? 6 * n : 0);
  const index = new Map<string, number>();
  m.tunnels.forEach((t, i) => {
    ips.writeUInt32BE(parseIpv4(t.remoteIp) ?? 0, 4 * i);
    if (withMac && t.remoteMac !== '') macBytes(t.remoteMac).forEach((b, k) => (macs[6 * i + k] = b));
    index.set(m.hosts[i]!, i);
  });
  return { ips, macs, index };
}

/**
 * `host`'s whole set as groups, one per VNI (sorted): each the VNI's packed members as they are,
 * shared by every member's set (the agent skips its own address): nothing is copied per set. Its
 * size is the tunnels they carry to `host` (its own entry not counted).
 */
export function tunnelGroupsOf(host: string, vnis: ReadonlySet<number>, packed: (vni: number) => PackedMembers | undefined): { groups: TunnelGroupSpec[]; size: number } {
  const groups: TunnelGroupSpec[] = [];
  let size = 0;
  for (const vni of [...vnis].sort((a, b) => a - b)) {
    const p = packed(vni);
    if (!p) continue;
    size += p.index.size - (p.index.has(host) ? 1 : 0);
    groups.push({ vni, remoteIpv4: p.ips, remoteMac: p.macs });
  }
  return { groups, size };
}

/** The tunnels of packed groups as the agent whose address is `own` takes them (its own address skipped; for tests and checks). */
export function unpackGroups(groups: readonly TunnelGroupSpec[], own?: string): TunnelSpec[] {
  const out: TunnelSpec[] = [];
  const skip = own === undefined ? undefined : parseIpv4(own);
  for (const g of groups) {
    for (let k = 0; k < g.remoteIpv4.length / 4; k++) {
      if (g.remoteIpv4.readUInt32BE(4 * k) === skip) continue;
      const mac = g.remoteMac.length === 0 ? undefined : g.remoteMac.subarray(6 * k, 6 * k + 6);
      out.push({ remoteIp: formatIpv4(g.remoteIpv4.readUInt32BE(4 * k)), vni: g.vni, remoteMac: mac && mac.some((b) => b !== 0) ? [...mac].map((b) => b.toString(16).padStart(2, '0')).join(':') : '' });
    }
  }
  return out;
}

/** Every vhost's whole tunnel set, for every vhost with an endpoint (a reference: n² entries). */
export function tunnelSets(
  vnisByHost: ReadonlyMap<string, ReadonlySet<number>>,
  underlayIp: (host: string) => string | undefined,
  underlayMac: (host: string) => string | undefined = () => undefined,
): Map<string, TunnelSpec[]> {
  const members = vniMembers(vnisByHost, underlayIp, underlayMac);
  const out = new Map<string, TunnelSpec[]>();
  for (const [host, vnis] of vnisByHost) if (underlayIp(host)) out.set(host, tunnelSetOf(host, vnis, members));
  return out;
}

/** A member's tunnel as its peers' sets name it, with the vhost it is. */
export interface MemberTunnel {
  readonly host: string;
  readonly tunnel: TunnelSpec;
}

/** How a VNI's members changed: the endpoints that came or changed (upsert), and those that went. */
export interface MembersDiff {
  readonly upsert: readonly MemberTunnel[];
  /** Never an address `upsert` names (the upsert replaces it). */
  readonly remove: readonly MemberTunnel[];
}

/**
 * What each member's set gains and loses through this VNI between `before` and `after` (either
 * absent: no members), matched by vhost: O(members). A member's own change reaches it through
 * its whole set (it registered again); each other member is told the diff without its own entry.
 */
export function membersDiff(before: VniMembers | undefined, after: VniMembers | undefined): MembersDiff {
  const was = new Map<string, TunnelSpec>();
  if (before) before.hosts.forEach((h, i) => was.set(h, before.tunnels[i]!));
  const upsert: MemberTunnel[] = [];
  const remove: MemberTunnel[] = [];
  if (after) {
    after.hosts.forEach((host, i) => {
      const tunnel = after.tunnels[i]!;
      const old = was.get(host);
      was.delete(host);
      if (old && old.remoteIp !== tunnel.remoteIp) remove.push({ host, tunnel: old });
      if (!old || old.remoteIp !== tunnel.remoteIp || old.remoteMac !== tunnel.remoteMac) upsert.push({ host, tunnel });
    });
  }
  for (const [host, tunnel] of was) remove.push({ host, tunnel });
  const upserted = new Set(upsert.map((m) => m.tunnel.remoteIp));
  return { upsert, remove: remove.filter((m) => !upserted.has(m.tunnel.remoteIp)) };
}

/** Two member lists name the same endpoints (so no member's set changed through this VNI). */
export function sameMembers(a: VniMembers | undefined, b: VniMembers): boolean {
  return a !== undefined && a.hosts.length === b.hosts.length && a.hosts.every((h, i) => h === b.hosts[i]) && sameTunnels(a.tunnels, b.tunnels);
}

/** Two tunnel sets are the same (so a vhost need not be told again). */
export function sameTunnels(a: readonly TunnelSpec[] | undefined, b: readonly TunnelSpec[]): boolean {
  return a !== undefined && a.length === b.length && a.every((t, i) => t.remoteIp === b[i]!.remoteIp && t.vni === b[i]!.vni && t.remoteMac === b[i]!.remoteMac);
}

function compareIp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
