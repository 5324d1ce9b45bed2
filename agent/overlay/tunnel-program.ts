// The standalone data plane's flows: the neighbor table and the tunnel set, turned into br-tun's
// OpenFlow program (tunnel-flows.ts) and into vswitchd's static tunnel neighbors (the peers' underlay
// MACs, so vswitchd never drops a packet while it would ARP for a peer). A neighbor change costs the
// flows of the entries it touched; a tunnel change or a vswitchd restart recomputes the program
// from the table (the table is the truth, not a memory of what was sent).
// Two sources, two tables: the coordinator's (`table`, UpdateNeighbors, whose `replace` is its
// whole table only) and GoalState's (`goalstate`); the flows are computed over both, and FlowSync
// counts how many entries want each flow.
import type { Logger } from 'pino';
import { errorMessage } from '@merak/common';
import type { Flow } from '../openflow/index.js';
import { UnixctlClient, vswitchdControlPath } from '../vswitch/unixctl.js';
import { flushTunnelNeighbors, setTunnelNeighbor } from '../vswitch/tunnel-neighbors.js';
import type { FlowSync } from './flow-sync.js';
import { type NeighborChange, type NeighborEntry, NeighborTable } from './neighbor-table.js';
import { type FlowContext, fixedFlows, floodFlows, ingressFlow, neighborFlows } from './tunnel-flows.js';
import { type Tunnel, type TunnelSource, type TunnelType, tunnelPortName } from './tunnels.js';
import { UPLINK_BRIDGE } from './underlay.js';

/** How often the tunnel neighbors are given again (vswitchd's default aging is 900 s). */
const PEER_RENEWAL_MS = 5 * 60_000;

export interface NeighborOutcome {
  readonly neighbors: number;
  readonly flows: number;
  readonly flowsAdded: number;
  readonly flowsRemoved: number;
  readonly micros: number;
}

/** A peer endpoint: its underlay address and MAC ('' = vswitchd resolves it). */
export interface TunnelPeer {
  readonly ip: string;
  readonly mac: string;
}

export interface TunnelProgramDeps {
  readonly flows: FlowSync;
  readonly logger: Logger;
  /** This vhost's tunnel endpoint. */
  readonly localIp: string;
  /** OVS's run directory, where vswitchd's control socket is. */
  readonly ovsRundir: string;
  /** The VNI's VLAN, assigned if it has none; undefined when none is left. */
  acquireVlan(vni: number): number | undefined;
  /** br-tun's ofports by interface name, read from OVSDB (the patch port's and the tunnels'); with `names`, only theirs. */
  ofports(names?: readonly string[]): Promise<Map<string, number>>;
  readonly patchPort: string;
}

export class TunnelProgram {
  /** The coordinator's neighbor table. */
  readonly table = new NeighborTable();
  /** GoalState's neighbor table (its tunnels are VXLAN). */
  readonly goalstate = new NeighborTable();
  /** VNIs with a port GoalState attached: their ingress flow exists even before any neighbor. */
  private goalstatePortVnis = new Set<number>();
  private ofportByName = new Map<string, number>();
  private type: TunnelType = 'vxlan';
  private tunnelVnis = new Set<number>();
  private ingressVnis = new Map<number, Flow>();
  /** The static tunnel neighbors vswitchd holds; undefined = not known (set them all again). */
  private peersSet: Map<string, string> | undefined;
  private peers = new Map<string, string>();
  /** br-tun as a learning switch instead (tunnel-flows.ts floodFlows): the baseline data plane. */
  private flood = false;
  private peersQueue: Promise<unknown> = Promise.resolve();
  private renewal: NodeJS.Timeout | undefined;

  constructor(private readonly deps: TunnelProgramDeps) {
    // vswitchd forgets a neighbor it was given after its aging time (900 s by default; OVS has no
    // static entries): give them again well before.
    this.renewal = setInterval(() => void this.setPeers(true), PEER_RENEWAL_MS);
    this.renewal.unref();
  }

  close(): void {
    clearInterval(this.renewal);
  }

  /**
   * What a restarted agent finds of the tunnels in OVSDB (their marks), so the first table it is
   * given resolves to the tunnels that exist, before the next SetTunnels says them again.
   */
  recover(tunnels: ReadonlyArray<{ type: TunnelType; vni: number; remoteIp: string }>): void {
    if (tunnels.length === 0) return;
    this.type = tunnels[0]!.type;
    this.tunnelVnis = new Set(tunnels.map((t) => t.vni));
    this.deps.logger.info({ tunnels: tunnels.length, type: this.type }, 'tunnels recovered from OVSDB');
  }

  /** VNIs the tables, the tunnels or GoalState's ports use: their VLANs must not be given back, and each has its ingress flow. */
  vnis(): Set<number> {
    return new Set([...this.table.vnis(), ...this.tunnelVnis, ...this.goalstate.vnis(), ...this.goalstatePortVnis]);
  }

  /** How a source's entries resolve (the ofports as they are now: a later refresh does not change this context). */
  private context(source: TunnelSource = 'coordinator'): FlowContext {
    const ofports = this.ofportByName;
    const type = source === 'coordinator' ? this.type : 'vxlan';
    return {
      localIp: this.deps.localIp,
      vlanOf: (vni) => this.deps.acquireVlan(vni),
      tunnelOfport: (hostIp, vni) => ofports.get(tunnelPortName(type, hostIp, vni)),
    };
  }

  /**
   * What a restarted agent had applied for GoalState, read back from OVSDB. No flow is sent now:
   * seeded before the first flush (which rewrites br-tun from the tables), the flows are in that
   * rewrite; seeded later, they are desired now and go with the next flush.
   */
  seedGoalState(entries: readonly NeighborEntry[], portVnis: Iterable<number>, peers: ReadonlyMap<string, string>): void {
    const ctx = this.context('goalstate');
    const delta = this.goalstate.apply({ upsert: entries, remove: [], replace: true });
    this.goalstatePortVnis = new Set(portVnis);
    this.peers = new Map(peers);
    if (this.flood) return;
    for (const e of delta.before) for (const f of neighborFlows(e, ctx)) this.deps.flows.unset(f);
    for (const e of delta.after) for (const f of neighborFlows(e, ctx)) this.deps.flows.set(f);
    this.syncIngress(ctx);
  }

  /** GoalState's table becomes `entries` and every flow is computed again (after a change that failed half-way). */
  async resyncGoalState(entries: readonly NeighborEntry[], peers: ReadonlyMap<string, string>): Promise<void> {
    this.goalstate.apply({ upsert: entries, remove: [], replace: true });
    this.peers = new Map(peers);
    await this.refresh();
    await this.deps.flows.flush();
  }

  /** The VNIs of GoalState's ports changed: their ingress flows follow. */
  async setGoalStatePortVnis(vnis: Iterable<number>): Promise<void> {
    this.goalstatePortVnis = new Set(vnis);
    if (!this.flood) this.syncIngress(this.context());
    await this.deps.flows.flush();
  }

  /**
   * Applies a change of GoalState's table, after its tunnel ports changed as `tunnels` says (then
   * the ofports are read again, the peers set, and the flows of every entry, of either table,
   * behind a tunnel added or removed are recomputed). Costs the entries touched, not the table.
   */
  async updateGoalState(change: NeighborChange, tunnels: { added: ReadonlyArray<{ remoteIp: string; vni: number }>; removed: ReadonlyArray<{ remoteIp: string; vni: number }>; peers: ReadonlyMap<string, string> }): Promise<NeighborOutcome> {
    const t0 = process.hrtime.bigint();
    const oldCtx = { coordinator: this.context('coordinator'), goalstate: this.context('goalstate') };
    const delta = this.goalstate.apply(change);
    this.peers = new Map(tunnels.peers);
    const changed = [...tunnels.added, ...tunnels.removed];
    if (changed.length > 0) this.ofportByName = await this.deps.ofports();
    await this.setPeers();
    if (!this.flood) {
      for (const e of delta.before) for (const f of neighborFlows(e, oldCtx.goalstate)) this.deps.flows.unset(f);
      const ctx = { coordinator: this.context('coordinator'), goalstate: this.context('goalstate') };
      const fresh = new Set<NeighborEntry>(delta.after);
      const behind = new Set(changed.map((t) => `${t.remoteIp}/${t.vni}`));
      for (const [source, table] of [['coordinator', this.table], ['goalstate', this.goalstate]] as const) {
        for (const vni of new Set(changed.map((t) => t.vni))) {
          for (const e of table.inVni(vni)) {
            if (fresh.has(e) || !behind.has(`${e.hostIp}/${e.vni}`)) continue;
            for (const f of neighborFlows(e, oldCtx[source])) this.deps.flows.unset(f);
            for (const f of neighborFlows(e, ctx[source])) this.deps.flows.set(f);
          }
        }
      }
      for (const e of delta.after) for (const f of neighborFlows(e, ctx.goalstate)) this.deps.flows.set(f);
      this.syncIngress(ctx.goalstate);
    }
    const out = await this.deps.flows.flush();
    const micros = Number((process.hrtime.bigint() - t0) / 1000n);
    this.deps.logger.info({ neighbors: this.goalstate.size, upserted: delta.after.length, removed: delta.before.length, tunnelsChanged: changed.length, flows: this.deps.flows.size, sent: out.added + out.removed, full: out.full, micros }, 'GoalState neighbors updated');
    return { neighbors: this.goalstate.size, flows: this.deps.flows.size, flowsAdded: out.added, flowsRemoved: out.removed, micros };
  }

  /** Applies a neighbor change and sends its flows. */
  async update(change: NeighborChange): Promise<NeighborOutcome> {
    const t0 = process.hrtime.bigint();
    const ctx = this.context();
    const delta = this.table.apply(change);
    if (!this.flood) {
      for (const e of delta.before) for (const f of neighborFlows(e, ctx)) this.deps.flows.unset(f);
      for (const e of delta.after) for (const f of neighborFlows(e, ctx)) this.deps.flows.set(f);
      this.syncIngress(ctx);
    }
    const out = await this.deps.flows.flush();
    const micros = Number((process.hrtime.bigint() - t0) / 1000n);
    this.deps.logger.info({ neighbors: this.table.size, upserted: delta.after.length, removed: delta.before.length, flows: this.deps.flows.size, sent: out.added + out.removed, full: out.full, micros }, 'neighbor table updated');
    return { neighbors: this.table.size, flows: this.deps.flows.size, flowsAdded: out.added, flowsRemoved: out.removed, micros };
  }

  /**
   * The coordinator's tunnel set changed (ports added or removed): new ofports, peers (`peers`: of
   * both sources; default: these tunnels'), and the whole program again.
   */
  async tunnelsChanged(type: TunnelType, tunnels: ReadonlyArray<{ remoteIp: string; vni: number; remoteMac: string }>, flood: boolean, peers?: ReadonlyMap<string, string>): Promise<void> {
    this.type = type;
    this.flood = flood;
    this.tunnelVnis = new Set(tunnels.map((t) => t.vni));
    this.peers = new Map(peers ?? tunnels.map((t) => [t.remoteIp, t.remoteMac]));
    await this.refresh();
    await this.deps.flows.flush();
  }

  /**
   * The coordinator's set changed by a delta (UpdateTunnels): the ofports of the ports added or
   * removed are read (by name), the peers set, and only the flows of the entries behind those
   * tunnels recomputed (and the VNIs' ingress flows): costs the change, not the set.
   */
  async tunnelsUpdated(change: { readonly added: readonly Tunnel[]; readonly removed: readonly Tunnel[] }, vnis: ReadonlySet<number>, peers: ReadonlyMap<string, string>): Promise<void> {
    this.tunnelVnis = new Set(vnis);
    this.peers = new Map(peers);
    await this.setPeers();
    const changed = [...change.added, ...change.removed];
    if (!this.flood && changed.length > 0) {
      const ctx = { coordinator: this.context('coordinator'), goalstate: this.context('goalstate') };
      const behind = new Set(changed.map((t) => `${t.remoteIp}/${t.vni}`));
      const affected: Array<[TunnelSource, NeighborEntry]> = [];
      for (const [source, table] of [['coordinator', this.table], ['goalstate', this.goalstate]] as const) {
        for (const vni of new Set(changed.map((t) => t.vni))) for (const e of table.inVni(vni)) if (behind.has(`${e.hostIp}/${e.vni}`)) affected.push([source, e]);
      }
      for (const [source, e] of affected) for (const f of neighborFlows(e, ctx[source])) this.deps.flows.unset(f);
      // A new map: the contexts above keep resolving to the ofports as they were.
      const ofports = new Map(this.ofportByName);
      for (const t of change.removed) ofports.delete(tunnelPortName(this.type, t.remoteIp, t.vni));
      const names = change.added.map((t) => tunnelPortName(this.type, t.remoteIp, t.vni));
      if (names.length > 0) for (const [name, port] of await this.deps.ofports(names)) ofports.set(name, port);
      this.ofportByName = ofports;
      const next = { coordinator: this.context('coordinator'), goalstate: this.context('goalstate') };
      for (const [source, e] of affected) for (const f of neighborFlows(e, next[source])) this.deps.flows.set(f);
    }
    if (!this.flood) this.syncIngress(this.context());
    await this.deps.flows.flush();
  }

  /** Re-reads what vswitchd decides (ofports), sets the tunnel neighbors, recomputes every flow. */
  async refresh(): Promise<void> {
    this.ofportByName = await this.deps.ofports();
    await this.setPeers();
    const patch = this.ofportByName.get(this.deps.patchPort);
    if (patch === undefined) throw new Error(`${this.deps.patchPort} has no ofport on the tunnel bridge`);
    this.ingressVnis.clear();
    if (this.flood) {
      this.deps.flows.replaceAll(floodFlows());
      return;
    }
    const ctx = this.context();
    const flows: Flow[] = [...fixedFlows(patch)];
    for (const vni of this.vnis()) {
      const vlan = ctx.vlanOf(vni);
      if (vlan === undefined) continue;
      const f = ingressFlow(vni, vlan, patch);
      this.ingressVnis.set(vni, f);
      flows.push(f);
    }
    for (const e of this.table.entries()) flows.push(...neighborFlows(e, ctx));
    const gsCtx = this.context('goalstate');
    for (const e of this.goalstate.entries()) flows.push(...neighborFlows(e, gsCtx));
    this.deps.flows.replaceAll(flows);
  }

  /** Ingress flows for exactly the VNIs in use (a VNI's first neighbor adds one, its last removes it). */
  private syncIngress(ctx: FlowContext): void {
    const patch = this.ofportByName.get(this.deps.patchPort);
    if (patch === undefined) return;
    const want = this.vnis();
    for (const [vni, f] of this.ingressVnis) {
      if (want.has(vni)) continue;
      this.deps.flows.unset(f);
      this.ingressVnis.delete(vni);
    }
    for (const vni of want) {
      if (this.ingressVnis.has(vni)) continue;
      const vlan = ctx.vlanOf(vni);
      if (vlan === undefined) continue;
      const f = ingressFlow(vni, vlan, patch);
      this.deps.flows.set(f);
      this.ingressVnis.set(vni, f);
    }
  }

  /**
   * Makes vswitchd's tunnel neighbors the peers' (those with a MAC); `renew` gives them all again.
   * OVS 3.1 has no command to remove one entry: when a peer goes, the cache is flushed and the
   * others set again. One at a time.
   */
  private setPeers(renew = false): Promise<void> {
    const run = this.peersQueue.then(() => this.setPeersNow(renew));
    this.peersQueue = run.catch(() => undefined);
    return run;
  }

  private async setPeersNow(renew: boolean): Promise<void> {
    const want = new Map([...this.peers].filter(([, mac]) => mac !== ''));
    const have = this.peersSet;
    const gone = have === undefined || [...have].some(([ip, mac]) => want.get(ip) !== mac);
    const todo = gone || renew ? [...want] : [...want].filter(([ip]) => !have.has(ip));
    if (todo.length === 0 && !(gone && have !== undefined && have.size > 0)) return;
    let client: UnixctlClient | undefined;
    try {
      client = await UnixctlClient.connect(vswitchdControlPath(this.deps.ovsRundir), { timeoutMs: 5000 });
      if (gone && have !== undefined && have.size > 0) await flushTunnelNeighbors(client);
      await Promise.all(todo.map(([ip, mac]) => setTunnelNeighbor(client!, UPLINK_BRIDGE, ip, mac)));
      this.peersSet = want;
    } catch (e) {
      // Not fatal: vswitchd then resolves the peers by ARP (the first packets to each are lost).
      this.peersSet = undefined;
      this.deps.logger.warn({ err: errorMessage(e) }, 'could not set the static tunnel neighbors');
    } finally {
      client?.close();
    }
  }

  /** vswitchd restarted: it forgot its tunnel neighbors as well as its flows. */
  forgetPeers(): void {
    this.peersSet = undefined;
  }

  /** The coordinator's table. */
  entries(): NeighborEntry[] {
    return [...this.table.entries()];
  }
}
