// The standalone data plane's flows: the neighbor table and the tunnel set, turned into br-tun's
// OpenFlow program (tunnel-flows.ts) and into vswitchd's static tunnel neighbors (the peers' underlay
// MACs, so vswitchd never drops a packet while it would ARP for a peer). A neighbor change costs the
// flows of the entries it touched; a tunnel change or a vswitchd restart recomputes the program
// from the table (the table is the truth, not a memory of what was sent).
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import type { Flow } from '../openflow/index.js';
import { UnixctlClient, vswitchdControlPath } from '../vswitch/unixctl.js';
import { flushTunnelNeighbors, setTunnelNeighbor } from '../vswitch/tunnel-neighbors.js';
import type { FlowSync } from './flow-sync.js';
import { type NeighborChange, type NeighborEntry, NeighborTable } from './neighbor-table.js';
import { type FlowContext, fixedFlows, floodFlows, ingressFlow, neighborFlows } from './tunnel-flows.js';
import { type TunnelType, tunnelPortName } from './tunnels.js';
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
  /** br-tun's ofports by interface name, read from OVSDB (the patch port's and the tunnels'). */
  ofports(): Promise<Map<string, number>>;
  readonly patchPort: string;
}

export class TunnelProgram {
  readonly table = new NeighborTable();
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

  /** VNIs the table or the tunnels use: their VLANs must not be given back. */
  vnis(): Set<number> {
    return new Set([...this.table.vnis(), ...this.tunnelVnis]);
  }

  private context(): FlowContext {
    return {
      localIp: this.deps.localIp,
      vlanOf: (vni) => this.deps.acquireVlan(vni),
      tunnelOfport: (hostIp, vni) => this.ofportByName.get(tunnelPortName(this.type, hostIp, vni)),
    };
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

  /** The tunnel set changed (ports added or removed): new ofports, peers, and the whole program again. */
  async tunnelsChanged(type: TunnelType, tunnels: ReadonlyArray<{ remoteIp: string; vni: number; remoteMac: string }>, flood: boolean): Promise<void> {
    this.type = type;
    this.flood = flood;
    this.tunnelVnis = new Set(tunnels.map((t) => t.vni));
    this.peers = new Map(tunnels.map((t) => [t.remoteIp, t.remoteMac]));
    await this.refresh();
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

  entries(): NeighborEntry[] {
    return [...this.table.entries()];
  }
}
