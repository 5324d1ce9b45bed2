// The GoalState host agent's data plane on a real vhost (docs/goalstate-data-plane.md): a port
// GoalState creates becomes an access port of its VNI's local VLAN on br-int; its neighbors are a
// second neighbor table beside the coordinator's, programmed into br-tun as the coordinator's are
// (ARP answered in the switch, unicast into a VXLAN port per (host, VNI)), with the tunnels they
// need reference-counted by the table itself. Everything it applied is recorded in OVSDB (marks on
// the ports, one external_id per neighbor on br-tun) so that a restarted agent rebuilds it from
// OVS alone (recover(), before its first flow is sent).
import type { Logger } from 'pino';
import { errorMessage } from '@merak/common';
import { MARK, type Overlay, TUNNEL_BRIDGE, type TunnelProgram } from '../overlay/index.js';
import { MutateExternalIds } from '../vswitch/commands.js';
import type { Vswitch } from '../vswitch/vswitch.js';
import type { GoalStateDataPlane, GoalStateNeighbor, GoalStateNeighborKey } from './contracts.js';
import { changeRecords, readRecords, recordKey, tunnelsFor } from './kernel-data-plane-records.js';

/** What the data plane needs of OVSDB. */
export type GoalStateStore = Pick<Vswitch, 'setPortTag' | 'bridgeExternalIds' | 'portsMarked' | 'commit'>;

export interface KernelGoalStateDeps {
  readonly overlay: Overlay;
  readonly store: GoalStateStore;
  readonly logger: Logger;
  /**
   * This vhost's own addresses: its underlay endpoint and every interface address at start (as
   * Alcor's host agent decides "same host"; addresses added later are not noticed).
   */
  readonly ownIps: Iterable<string>;
  /** The bridge whose external_ids hold the neighbor records (default br-tun). */
  readonly recordBridge?: string;
}

interface Recovered {
  readonly ports: ReadonlyArray<{ tap: string; vni: number }>;
  readonly neighbors: readonly GoalStateNeighbor[];
}

/** The interface addresses of a namespace (IPv4 and IPv6), for KernelGoalStateDeps.ownIps. */
export async function interfaceAddresses(host: { addrList(): Promise<ReadonlyArray<{ ip: string }>> }): Promise<string[]> {
  return (await host.addrList()).map((a) => a.ip);
}

export class KernelGoalStateDataPlane implements GoalStateDataPlane {
  private readonly ownIps: ReadonlySet<string>;
  /** GoalState's neighbors as recorded in OVSDB, by `vni/ip`. */
  private records = new Map<string, GoalStateNeighbor>();
  /** Attached ports: name -> VNI. */
  private readonly ports = new Map<string, number>();

  /** What recover() read, once: every other call waits for it (the tables must be seeded first). */
  private recovering: Promise<Recovered> | undefined;

  constructor(private readonly deps: KernelGoalStateDeps) {
    this.ownIps = new Set(deps.ownIps);
  }

  /**
   * What an earlier run applied, read from OVSDB once (the marked ports, the neighbor records),
   * with which the overlay and the tunnel program are seeded without sending anything. Call it at
   * start, before the agent serves anything: the tunnel bridge's first flush rewrites br-tun from
   * the tables, and GoalState's must hold what it had by then. Any other call first waits for it.
   */
  recover(): Promise<Recovered> {
    this.recovering ??= this.readBack();
    return this.recovering;
  }

  private async readBack(): Promise<Recovered> {
    const { store, logger } = this.deps;
    const ports = (await store.portsMarked({ [MARK.goalstate]: '1' })).flatMap((p) => {
      const vni = Number(p.externalIds[MARK.vni]);
      return Number.isInteger(vni) && vni > 0 ? [{ tap: p.name, vni }] : [];
    });
    const { neighbors, unreadable } = readRecords((await store.bridgeExternalIds(this.recordBridge())) ?? {});
    if (unreadable.length > 0) logger.warn({ keys: unreadable.slice(0, 5), count: unreadable.length }, 'GoalState neighbor records that do not parse are ignored');
    for (const n of neighbors) this.records.set(`${n.vni}/${n.ip}`, n);
    for (const p of ports) this.ports.set(p.tap, p.vni);
    this.deps.overlay.seedGoalStateTunnels(tunnelsFor(this.records.values(), (ip) => this.isLocal(ip)));
    this.programOrUndefined()?.seedGoalState(this.entries(), this.ports.values(), this.deps.overlay.peers());
    if (ports.length + neighbors.length > 0) logger.info({ ports: ports.length, neighbors: neighbors.length }, 'GoalState data plane recovered from OVSDB');
    return { ports, neighbors };
  }

  private recordBridge(): string {
    return this.deps.recordBridge ?? TUNNEL_BRIDGE;
  }

  private programOrUndefined(): TunnelProgram | undefined {
    try {
      return this.deps.overlay.tunnelProgram();
    } catch {
      return undefined;
    }
  }

  /** The remote neighbors as the tunnel program's table holds them. */
  private entries(): GoalStateNeighbor[] {
    return [...this.records.values()].filter((n) => !this.isLocal(n.hostIp));
  }

  isLocal(hostIp: string): boolean {
    return this.ownIps.has(hostIp);
  }

  async attachPort(tap: string, vni: number): Promise<'attached' | 'absent'> {
    await this.recover();
    return this.deps.overlay.exclusive(async () => {
      const found = await this.deps.overlay.withVlan(vni, (vlan) =>
        this.deps.store.setPortTag(tap, vlan, { set: { [MARK.vni]: String(vni), [MARK.goalstate]: '1' } }));
      if (!found) return 'absent';
      this.ports.set(tap, vni);
      await this.portVnisChanged();
      this.deps.logger.debug({ tap, vni, vlan: this.deps.overlay.vlanMap().get(vni) }, 'GoalState port attached');
      return 'attached';
    });
  }

  async detachPort(tap: string): Promise<void> {
    await this.recover();
    await this.deps.overlay.exclusive(async () => {
      // Only a port GoalState attached: a port of the same name that it did not is left alone.
      await this.deps.store.setPortTag(tap, undefined, { remove: [MARK.vni, MARK.goalstate] }, { [MARK.goalstate]: '1' });
      if (this.ports.delete(tap)) await this.portVnisChanged();
    });
  }

  /** The VNIs with an attached port have their ingress flow (a remote VM may send before we know it). */
  private async portVnisChanged(): Promise<void> {
    await this.programOrUndefined()?.setGoalStatePortVnis(this.ports.values());
  }

  async updateNeighbors(upsert: readonly GoalStateNeighbor[], remove: readonly GoalStateNeighborKey[]): Promise<void> {
    if (upsert.length === 0 && remove.length === 0) return;
    await this.recover();
    await this.deps.overlay.exclusive(async () => {
      const program = this.deps.overlay.tunnelProgram();
      const change = changeRecords(this.records, upsert.filter((n) => !this.isLocal(n.hostIp)), remove);
      if (change.upserted.length === 0 && change.removed.length === 0) return;
      const record = new MutateExternalIds('Bridge', this.recordBridge(), change.set, change.remove);
      const tunnels = tunnelsFor(change.next.values(), (ip) => this.isLocal(ip));
      let ports;
      try {
        // The records and the tunnel ports in one transaction, before any flow: a crash never
        // leaves a flow or a tunnel that the records do not explain.
        ports = await this.deps.overlay.setGoalStateTunnels(tunnels, [record]);
      } catch (e) {
        // Whether the transaction was committed is known only to OVSDB: read the records back.
        await this.resync();
        throw e;
      }
      this.records = change.next;
      await program.updateGoalState(
        { upsert: change.upserted, remove: change.removed, replace: false },
        { added: ports.added, removed: ports.removed, peers: this.deps.overlay.peers() },
      );
    });
  }

  /** After a change that failed half-way: the records as OVSDB has them, and every flow again. */
  private async resync(): Promise<void> {
    try {
      const ids = await this.deps.store.bridgeExternalIds(this.recordBridge());
      this.records = new Map(readRecords(ids ?? {}).neighbors.map((n) => [`${n.vni}/${n.ip}`, n]));
      this.deps.overlay.seedGoalStateTunnels(tunnelsFor(this.records.values(), (ip) => this.isLocal(ip)));
      await this.deps.overlay.tunnelProgram().resyncGoalState(this.entries(), this.deps.overlay.peers());
    } catch (e) {
      this.deps.logger.warn({ err: errorMessage(e) }, 'GoalState neighbors not resynchronised after a failed change');
    }
  }

  /** The neighbor record keys (for tests and logs). */
  recordKeys(): string[] {
    return [...this.records.values()].map((n) => recordKey(n));
  }
}
