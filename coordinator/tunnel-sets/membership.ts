// The standalone data plane's only decision: which tunnels each vhost needs. A vhost needs one
// tunnel per (other vhost, VNI) that both have VMs in: a full mesh per VPC over the vhosts that
// host it, so broadcast (ARP) reaches every VM of the VPC and nothing else. Pure: no I/O.
//
// Kept per VNI, not per vhost: a VNI on n vhosts is n endpoints (one list shared by its members),
// where the vhosts' sets are n * (n - 1) tunnels. A vhost's set is made from the lists when it is
// sent (tunnelSetOf), so nothing of size n² is held; when they change, membersDiff says what each
// member gains and loses (what a delta carries).

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
