// The coordinator's side of the standalone data plane (the agent's is agent/overlay/): computes
// each VNI's members (membership.ts) and pushes the changes to the vhosts' tunnel sets and
// neighbor tables (UpdateNeighbors: only the entries that changed).
//
// What is sent when, for tunnels:
// - a vhost not told before (new to the coordinator, registered again after a restart or with
//   another underlay address: forget()), or whose last call failed, gets its whole set (SetTunnels);
// - when a vhost joins or leaves a VNI, each other member of it gets only the change (UpdateTunnels:
//   one upsert, or one remove); the vhost itself gets its whole set when it is new, else the
//   tunnels of the VNIs it joined or left (whichever is smaller: the delta or the whole set);
// - a vhost left with no VNI (or without an endpoint) gets an empty set.
// So one vhost joining or leaving a VPC of n vhosts costs n - 1 one-entry deltas and one set.
// A delta is computed from the generation of each VNI the vhost was last told: only if that was
// the VNI's generation just before this change is what it holds known; otherwise (it missed a
// change) it gets its whole set. An agent that cannot apply a delta (it restarted and holds no
// set, or another type) refuses it, changing nothing; so does any failure: that vhost's record is
// dropped and it gets its whole set at the next apply.
//
// What was told is kept per VNI (its members, and a generation that moves when they change) and per
// vhost (the generation of each of its VNIs it was last told): O(members), never the n² tunnels of
// the sets. An apply where nothing changed costs O(members). Applies run one at a time (a delta is
// relative to what the previous apply sent).
import { errorMessage, forEachBounded } from '@merak/common';
import { agentV1 } from '@merak/proto';
import type { Logger } from 'pino';
import { type MembersDiff, type PackedMembers, type TunnelSpec, type VniMembers, membersDiff, packMembers, sameMembers, tunnelGroupsOf, vniMembers } from './membership.js';

export interface TunnelPort {
  setTunnels(req: agentV1.SetTunnelsRequest): Promise<agentV1.SetTunnelsResponse>;
  updateTunnels(req: agentV1.UpdateTunnelsRequest): Promise<agentV1.UpdateTunnelsResponse>;
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
  /** of which told their whole set (SetTunnels) */
  readonly sets: number;
  /** of which told a delta (UpdateTunnels) */
  readonly deltas: number;
  /** tunnels the told vhosts have after the call (as they answered) */
  readonly tunnels: number;
  /** tunnels sent: the entries of the sets sent, and the upserts and removes of the deltas */
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
  /** Its own endpoint then. */
  readonly underlayIp: string;
}

/** A VNI whose members changed in this apply: its generation before, and how they changed. */
interface Changed {
  readonly from: number | undefined;
  readonly before: VniMembers | undefined;
  readonly diff: MembersDiff;
}

type Plan = { readonly kind: 'whole'; readonly vnis: ReadonlySet<number> } | { readonly kind: 'delta'; readonly vnis: ReadonlySet<number>; readonly upsert: TunnelSpec[]; readonly remove: TunnelSpec[] };

export class TunnelSets {
  private readonly told = new Map<string, Told>();
  /** Each VNI's members as last computed, and their generation (moves whenever they change). */
  private members = new Map<number, VniMembers>();
  private readonly generation = new Map<number, number>();
  private nextGeneration = 1;
  /** Bumped by forget(): a call in flight when its vhost was forgotten records nothing. */
  private readonly forgets = new Map<string, number>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly packed = new WeakMap<VniMembers, PackedMembers>();

  constructor(private readonly deps: TunnelSetsDeps) {}

  /** The vhost's tunnel endpoint as it registered it ('' / undefined: none). */
  underlayIpOf(host: string): string | undefined {
    return this.deps.underlayIp(host);
  }

  /** Whether neighbor tables are sent (not with flood and learn): without, there is no need to compute them. */
  get sendsNeighbors(): boolean {
    return !this.deps.flood;
  }

  /** The vhost may have lost or changed what it was told (it registered again): tell it its whole set next time. */
  forget(host: string): void {
    this.told.delete(host);
    this.forgets.set(host, (this.forgets.get(host) ?? 0) + 1);
  }

  /** Tells each vhost what changed of its set since it was last told (one apply at a time). */
  apply(vnisByHost: ReadonlyMap<string, ReadonlySet<number>>): Promise<TunnelSetsOutcome> {
    const run = this.queue.then(() => this.applyNow(vnisByHost));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async applyNow(vnisByHost: ReadonlyMap<string, ReadonlySet<number>>): Promise<TunnelSetsOutcome> {
    const members = vniMembers(vnisByHost, (h) => this.deps.underlayIp(h), (h) => this.deps.underlayMac?.(h));
    const changed = new Map<number, Changed>();
    for (const [vni, m] of members) {
      const before = this.members.get(vni);
      if (sameMembers(before, m)) continue;
      changed.set(vni, { from: this.generation.get(vni), before, diff: membersDiff(before, m) });
      this.generation.set(vni, this.nextGeneration++);
    }
    for (const [vni, before] of this.members) {
      if (members.has(vni)) continue;
      changed.set(vni, { from: this.generation.get(vni), before, diff: membersDiff(before, undefined) });
      this.generation.delete(vni);
    }
    this.members = members;
    const work: Array<[string, Plan]> = [];
    for (const [host, vnis] of vnisByHost) {
      const plan = this.deps.underlayIp(host) ? this.plan(host, vnis, changed) : undefined;
      if (plan) work.push([host, plan]);
    }
    // Vhosts that had tunnels but now host nothing (or lost their endpoint) get an empty set.
    for (const [host, t] of this.told) {
      if (t.tunnels > 0 && !(vnisByHost.has(host) && this.deps.underlayIp(host))) work.push([host, { kind: 'whole', vnis: new Set() }]);
    }
    const failures: string[] = [];
    let tunnels = 0;
    let entries = 0;
    let sets = 0;
    let deltas = 0;
    const type = this.deps.type === 'geneve' ? agentV1.TunnelType.TUNNEL_TYPE_GENEVE : agentV1.TunnelType.TUNNEL_TYPE_VXLAN;
    const flood = this.deps.flood ?? false;
    await this.each(work, failures, this.deps.parallelism ?? 64, async (client, host, plan) => {
      const generations = new Map([...plan.vnis].map((v) => [v, this.generation.get(v) ?? 0]));
      const size = this.setSize(plan.vnis);
      const epoch = this.forgets.get(host);
      // Until the answer, what the vhost holds is not known: a failure leaves it to get its whole set.
      this.told.delete(host);
      let res: agentV1.SetTunnelsResponse;
      if (plan.kind === 'whole') {
        // Made when sent and dropped after: at most `parallelism` sets exist at once.
        const set = tunnelGroupsOf(host, plan.vnis, (v) => this.packedOf(members.get(v)));
        entries += set.size;
        res = await client.setTunnels({ tunnels: [], groups: set.groups, type, flood });
        sets++;
      } else {
        entries += plan.upsert.length + plan.remove.length;
        res = await client.updateTunnels({ upsert: plan.upsert, remove: plan.remove.map((t) => ({ remoteIp: t.remoteIp, vni: t.vni })), type, flood });
        deltas++;
      }
      if (this.forgets.get(host) === epoch) this.told.set(host, { generations, tunnels: size, underlayIp: this.deps.underlayIp(host) ?? '' });
      tunnels += res.tunnels;
      this.deps.logger.debug({ host, kind: plan.kind, tunnels: res.tunnels, added: res.added, removed: res.removed }, 'tunnels told');
    });
    return { told: work.length - failures.length, sets, deltas, tunnels, entries, failures };
  }

  /**
   * What `host` must be told: nothing (undefined), its whole set, or a delta from what it was
   * last told. A delta needs each VNI it was told to be at its current generation or at the one
   * just before this apply's change (then the change's diff is what it lacks).
   */
  private plan(host: string, vnis: ReadonlySet<number>, changed: ReadonlyMap<number, Changed>): Plan | undefined {
    const t = this.told.get(host);
    if (!t || t.underlayIp !== this.deps.underlayIp(host)) return { kind: 'whole', vnis };
    const upsert: TunnelSpec[] = [];
    const remove: TunnelSpec[] = [];
    let moved = t.generations.size !== vnis.size;
    for (const v of vnis) {
      const told = t.generations.get(v);
      if (told === this.generation.get(v)) continue;
      moved = true;
      const c = changed.get(v);
      if (told === undefined) for (const m of this.others(host, this.members.get(v))) upsert.push(m);
      else if (c && c.from === told) {
        for (const m of c.diff.upsert) if (m.host !== host) upsert.push(m.tunnel);
        for (const m of c.diff.remove) if (m.host !== host) remove.push(m.tunnel);
      } else return { kind: 'whole', vnis };
    }
    for (const [v, told] of t.generations) {
      if (vnis.has(v)) continue;
      // A VNI it left: it had the members as they were when it was told.
      const c = changed.get(v);
      if (c?.from === told) for (const m of this.others(host, c.before)) remove.push(m);
      else if (told === this.generation.get(v)) for (const m of this.others(host, this.members.get(v))) remove.push(m);
      else return { kind: 'whole', vnis };
    }
    if (!moved) return undefined;
    // The whole set when it is the smaller message (e.g. an empty one).
    if (upsert.length + remove.length > this.setSize(vnis)) return { kind: 'whole', vnis };
    return { kind: 'delta', vnis, upsert, remove };
  }

  /** A VNI's members packed, once per list of members (kept while the list is). */
  private packedOf(m: VniMembers | undefined): PackedMembers | undefined {
    if (!m) return undefined;
    let p = this.packed.get(m);
    if (!p) this.packed.set(m, (p = packMembers(m)));
    return p;
  }

  /** The tunnels of `m` but `host`'s own. */
  private *others(host: string, m: VniMembers | undefined): Iterable<TunnelSpec> {
    if (!m) return;
    for (let i = 0; i < m.hosts.length; i++) if (m.hosts[i] !== host) yield m.tunnels[i]!;
  }

  /** The size of a member's whole set over `vnis` (each VNI's members but itself). */
  private setSize(vnis: ReadonlySet<number>): number {
    let n = 0;
    for (const v of vnis) n += Math.max(0, (this.members.get(v)?.hosts.length ?? 1) - 1);
    return n;
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
