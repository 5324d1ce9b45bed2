// The standalone data plane's only decision: which tunnels each vhost needs. A vhost needs one
// tunnel per (other vhost, VNI) that both have VMs in: a full mesh per VPC over the vhosts that
// host it, so broadcast (ARP) reaches every VM of the VPC and nothing else. Pure: no I/O.

export interface TunnelSpec {
  readonly remoteIp: string;
  readonly vni: number;
  /** The peer's underlay MAC ('' = unknown): the agent makes it a static tunnel neighbor. */
  readonly remoteMac: string;
}

/**
 * `vnisByHost`: the VNIs each vhost has VMs in (over every live scenario); `underlayIp`: each
 * vhost's tunnel endpoint ('' or missing = none: it is left out, and its VMs reach only VMs on
 * the same vhost). Returns, for every vhost with an endpoint, its whole tunnel set, sorted.
 */
export function tunnelSets(
  vnisByHost: ReadonlyMap<string, ReadonlySet<number>>,
  underlayIp: (host: string) => string | undefined,
  underlayMac: (host: string) => string | undefined = () => undefined,
): Map<string, TunnelSpec[]> {
  const hostsOfVni = new Map<number, string[]>();
  for (const [host, vnis] of vnisByHost) {
    if (!underlayIp(host)) continue;
    for (const vni of vnis) (hostsOfVni.get(vni) ?? hostsOfVni.set(vni, []).get(vni)!).push(host);
  }
  const out = new Map<string, TunnelSpec[]>();
  for (const [host, vnis] of vnisByHost) {
    if (!underlayIp(host)) continue;
    const set: TunnelSpec[] = [];
    for (const vni of vnis) {
      for (const peer of hostsOfVni.get(vni) ?? []) {
        if (peer !== host) set.push({ remoteIp: underlayIp(peer)!, vni, remoteMac: underlayMac(peer) ?? '' });
      }
    }
    set.sort((a, b) => a.vni - b.vni || (a.remoteIp < b.remoteIp ? -1 : a.remoteIp > b.remoteIp ? 1 : 0));
    out.set(host, set);
  }
  return out;
}

/** Two tunnel sets are the same (so a vhost need not be told again). */
export function sameTunnels(a: readonly TunnelSpec[] | undefined, b: readonly TunnelSpec[]): boolean {
  return a !== undefined && a.length === b.length && a.every((t, i) => t.remoteIp === b[i]!.remoteIp && t.vni === b[i]!.vni && t.remoteMac === b[i]!.remoteMac);
}
