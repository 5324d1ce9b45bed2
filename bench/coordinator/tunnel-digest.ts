// What a hollow agent reports of its tunnels, so the bench can check them from outside without
// shipping n² tunnels back: per agent the calls (whole sets and deltas) and tunnels received, and
// of the set it holds after them its size, its VNIs, and an order-free digest (a sum of
// per-tunnel hashes), which the bench recomputes from the addresses it gave the agents.
import { formatIpv4, parseIpv4 } from '@merak/common';

/** vhost-i's underlay address: 100.64.0.0/10 from its index (100.64.0.1 for vhost-0). */
export function underlayIpOf(index: number): string {
  return formatIpv4(((100 << 24) | (64 << 16)) + index + 1);
}

export const vhostName = (index: number): string => `vhost-${index}`;

/** A 32-bit avalanche (murmur3's finalizer): near enough independent hashes of nearby inputs. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

export function tunnelHash(remoteIp: string, vni: number): number {
  return tunnelHashOf(parseIpv4(remoteIp) ?? 0, vni);
}

/** tunnelHash of an address as a number. */
export function tunnelHashOf(ip: number, vni: number): number {
  return mix32(ip ^ mix32(vni + 0x9e3779b9));
}

/** The size, VNIs and digest (the sum of its tunnels' hashes modulo 2^32: order-free) of a set held as each VNI's addresses. */
export function summaryOf(set: ReadonlyMap<number, Uint32Array>): { size: number; vnis: number[]; digest: number } {
  let sum = 0;
  let size = 0;
  for (const [vni, ips] of set) {
    size += ips.length;
    for (const ip of ips) sum = (sum + tunnelHashOf(ip, vni)) >>> 0;
  }
  return { size, vnis: [...set.keys()].filter((v) => set.get(v)!.length > 0).sort((a, b) => a - b), digest: sum };
}

/** One hollow agent's account, as its fleet reports it. */
export interface AgentTunnels {
  readonly index: number;
  /** VMs the agent holds now. */
  readonly vms: number;
  /** Tunnel calls (SetTunnels and UpdateTunnels) and tunnels received (a set's, a delta's upserts and removes), over its life. */
  readonly calls: number;
  readonly entries: number;
  /** The set it holds: its size, VNIs and digest. */
  readonly size: number;
  readonly vnis: readonly number[];
  readonly digest: number;
}

export interface FleetReport {
  readonly type: 'report';
  readonly agents: readonly AgentTunnels[];
}

/**
 * Checks the set each agent holds against the full mesh of `members` (vhost indexes) in `vni`: a
 * member must hold every other member's address and nothing else; any other agent nothing.
 * Returns one line per agent that is wrong (at most `limit`, then a count).
 */
export function checkMesh(agents: readonly AgentTunnels[], members: ReadonlySet<number>, vni: number, limit = 5): string[] {
  let all = 0;
  for (const m of members) all = (all + tunnelHash(underlayIpOf(m), vni)) >>> 0;
  const wrong: string[] = [];
  let more = 0;
  for (const a of agents) {
    const member = members.has(a.index);
    const want = member ? { size: members.size - 1, digest: (all - tunnelHash(underlayIpOf(a.index), vni)) >>> 0 } : { size: 0, digest: 0 };
    const vnisOk = want.size === 0 ? a.vnis.length === 0 : a.vnis.length === 1 && a.vnis[0] === vni;
    if (a.size === want.size && a.digest === want.digest && vnisOk) continue;
    if (wrong.length < limit) wrong.push(`${vhostName(a.index)}${member ? '' : ' (no VM)'}: ${a.size} tunnels in VNIs [${a.vnis.join(',')}], want ${want.size} in VNI ${vni}${a.size === want.size ? ' (other addresses)' : ''}`);
    else more++;
  }
  if (more > 0) wrong.push(`… and ${more} more`);
  return wrong;
}
