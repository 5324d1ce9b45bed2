// The coordinator's side of the standalone data plane (the agent's is agent/overlay/): computes
// each VNI's members (membership.ts) and pushes the changes. Tells each vhost its whole tunnel set
// (SetTunnels), only when it changed since that vhost was last told, and changes of its neighbor
// table (UpdateNeighbors: only the entries that changed). A vhost that comes back (restarted, or
// with another underlay address) is told again; so are its peers, whose sets name its address.
//
// What was told is kept per VNI (its members, and a generation that moves when they change) and per
// vhost (the generation of each of its VNIs it was last told): O(members), never the n² tunnels of
// the sets. So an apply where nothing changed costs O(members), and one where a vhost joins or
// leaves a VNI tells only that VNI's members (and the vhost). SetTunnels carries a whole set, so
// each of them is still sent its whole set: O(n) messages of O(n) tunnels (see docs).
import { errorMessage, forEachBounded } from '@merak/common';
import { agentV1 } from '@merak/proto';
import type { Logger } from 'pino';
import { type VniMembers, sameMembers, tunnelSetOf, vniMembers } from './membership.js';

export interface TunnelPort {
  setTunnels(req: agentV1.SetTunnelsRequest): Promise<agentV1.SetTunnelsResponse>;
  updateNeighbors(req: agentV1.UpdateNeighborsRequest): Promise<agentV1.UpdateNeighborsResponse>;
}

export interface TunnelSetsDeps {
  clientFor(host: string): TunnelPort | undefined;
  /** The vhost's tunnel endpoint ('' / undefined: none). */
  underlayIp(host: string): string | undefined;
  /** The MAC that answers for it ('' / undefined: unknown, vswitchd then resolves it by ARP). */
  underlayMac?(host: string): string | undefined;
  readonly type: 'vxlan' | 'geneve';
  /** Flood and learn across the tunnels instead of neighbor tables (the baseline data plane). */
  readonly flood?: boolean;
  readonly logger: Logger;
  /** vhosts told at once */
  readonly parallelism?: number;
  /** vhosts programming their neighbor tables at once (each is CPU-heavy for the agent and vswitchd). */
  readonly neighborParallelism?: number;
}

export interface TunnelSetsOutcome {
  /** vhosts whose set changed and were told */
  readonly told: number;
  /** tunnels the told vhosts have after the call (as they answered) */
  readonly tunnels: number;
  /** tunnels sent (the entries of the sets sent) */
  readonly entries: number;
  /** "host: reason" for each vhost that could not be told */
  readonly failures: readonly string[];
}

/** A VM as a neighbor table entry names it (the vhost by name; its underlay address is looked up when sent). */
export interface NeighborVm {
  readonly vni: number;
  readonly ip: string;
  readonly mac: string;
  readonly host: string;
}

/** One vhost's change of its neighbor table. */
export interface NeighborChange {
  readonly upsert: readonly NeighborVm[];
  readonly remove: ReadonlyArray<{ readonly vni: number; readonly ip: string }>;
  /** The table becomes exactly `upsert`. */
  readonly replace: boolean;
}

export interface NeighborOutcome {
  readonly told: number;
  /** Entries sent (upserted and removed) over all vhosts. */
  readonly entries: number;
  /** flow_mods the agents sent to their bridges for it. */
  readonly flowMods: number;
  /** The longest an agent took to program its table (µs). */
  readonly slowestMicros: number;
  readonly failures: readonly string[];
}

/** What a vhost was last told: its VNIs, each at the generation of its members then. */
interface Told {
  readonly generations: ReadonlyMap<number, number>;
  readonly tunnels: number;
}

export class TunnelSets {
  private readonly told = new Map<string, Told>();
  /** Each VNI's members as last computed, and their generation (moves whenever they change). */
  private members = new Map<number, VniMembers>();
  private readonly generation = new Map<number, number>();
  private nextGeneration = 1;

  constructor(private readonly deps: TunnelSetsDeps) {}

  /** The vhost's tunnel endpoint as it registered it ('' / undefined: none). */
  underlayIpOf(host: string): string | undefined {
    return this.deps.underlayIp(host);
  }

  /** The vhost may have lost or changed what it was told (it registered again): tell it again next time. */
  forget(host: string): void {
    this.told.delete(host);
  }

  async apply(vnisByHost: ReadonlyMap<string, ReadonlySet<number>>): Promise<TunnelSetsOutcome> {
    const members = vniMembers(vnisByHost, (h) => this.deps.underlayIp(h), (h) => this.deps.underlayMac?.(h));
    for (const [vni, m] of members) if (!sameMembers(this.members.get(vni), m)) this.generation.set(vni, this.nextGeneration++);
    for (const vni of this.members.keys()) if (!members.has(vni)) this.generation.delete(vni);
    this.members = members;
    const work: Array<[string, ReadonlySet<number>]> = [];
    for (const [host, vnis] of vnisByHost) if (this.deps.underlayIp(host) && !this.upToDate(host, vnis)) work.push([host, vnis]);
    // Vhosts that had tunnels but now host nothing (or lost their endpoint) get an empty set.
    for (const [host, t] of this.told) {
      if (t.tunnels > 0 && !(vnisByHost.has(host) && this.deps.underlayIp(host))) work.push([host, new Set()]);
    }
    const failures: string[] = [];
    let tunnels = 0;
    let entries = 0;
    const type = this.deps.type === 'geneve' ? agentV1.TunnelType.TUNNEL_TYPE_GENEVE : agentV1.TunnelType.TUNNEL_TYPE_VXLAN;
    await this.each(work, failures, this.deps.parallelism ?? 64, async (client, host, vnis) => {
      // Made when sent and dropped after: at most `parallelism` sets exist at once.
      const set = tunnelSetOf(host, vnis, members);
      const generations = new Map([...vnis].map((v) => [v, this.generation.get(v) ?? 0]));
      this.told.delete(host);
      entries += set.length;
      const res = await client.setTunnels({ tunnels: set, type, flood: this.deps.flood ?? false });
      // A later apply may have begun meanwhile: what is recorded is what this call sent.
      this.told.set(host, { generations, tunnels: set.length });
      tunnels += res.tunnels;
      this.deps.logger.debug({ host, tunnels: res.tunnels, added: res.added, removed: res.removed }, 'tunnels set');
    });
    return { told: work.length - failures.length, tunnels, entries, failures };
  }

  /** The vhost was told its set as it is now: the same VNIs, each at its current generation. */
  private upToDate(host: string, vnis: ReadonlySet<number>): boolean {
    const t = this.told.get(host);
    if (!t || t.generations.size !== vnis.size) return false;
    for (const v of vnis) if (t.generations.get(v) !== this.generation.get(v)) return false;
    return true;
  }

  /**
   * Sends each vhost its neighbor change. Entries whose VM's vhost has no tunnel endpoint are left
   * out (nothing can reach them), and so are vhosts without one.
   */
  async updateNeighbors(changes: ReadonlyMap<string, NeighborChange>): Promise<NeighborOutcome> {
    if (this.deps.flood) return { told: 0, entries: 0, flowMods: 0, slowestMicros: 0, failures: [] };
    const work: Array<[string, agentV1.UpdateNeighborsRequest]> = [];
    for (const [host, c] of changes) {
      if (!this.deps.underlayIp(host)) continue;
      const upsert: agentV1.Neighbor[] = [];
      for (const vm of c.upsert) {
        const hostIp = this.deps.underlayIp(vm.host);
        if (hostIp) upsert.push({ vni: vm.vni, ip: vm.ip, mac: vm.mac, hostIp });
      }
      work.push([host, { upsert, remove: c.remove.map((k) => ({ vni: k.vni, ip: k.ip })), replace: c.replace }]);
    }
    const failures: string[] = [];
    let entries = 0;
    let flows = 0;
    let maxMicros = 0;
    await this.each(work, failures, this.deps.neighborParallelism ?? 8, async (client, host, req) => {
      const res = await client.updateNeighbors(req);
      entries += req.upsert.length + req.remove.length;
      flows += res.flowsAdded + res.flowsRemoved;
      maxMicros = Math.max(maxMicros, res.micros);
      this.deps.logger.debug({ host, neighbors: res.neighbors, flows: res.flows, added: res.flowsAdded, removed: res.flowsRemoved, micros: res.micros }, 'neighbors updated');
    });
    return { told: work.length - failures.length, entries, flowMods: flows, slowestMicros: maxMicros, failures };
  }

  /**
   * Runs `fn` for each vhost of `work`, a bounded number at once; failures become "host: reason"
   * (recorded, not thrown: one vhost that cannot be told does not stop the others).
   */
  private async each<T>(work: ReadonlyArray<readonly [string, T]>, failures: string[], parallelism: number, fn: (client: TunnelPort, host: string, item: T) => Promise<void>): Promise<void> {
    await forEachBounded(work, parallelism, async ([host, item]) => {
      const client = this.deps.clientFor(host);
      if (!client) {
        failures.push(`${host}: not connected`);
        return;
      }
      try {
        await fn(client, host, item);
      } catch (e) {
        failures.push(`${host}: ${errorMessage(e)}`);
      }
    });
  }
}
