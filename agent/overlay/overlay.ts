// The standalone data plane: every VPC (VNI) gets a local VLAN on br-int; VM ports of a VNI are
// access ports on it (the tag set in the same transaction that inserts the port, so a port is
// never a trunk for a moment). Tunnel ports to the peers that share the VNI are on br-tun, whose
// flows come from the neighbor table (tunnel-program.ts). Lower: the OVSDB schema layer. Upper:
// the port committer, SetTunnels and UpdateNeighbors, and GoalState (agent/goalstate/).
// Two control planes may program one vhost: the coordinator (SetTunnels, UpdateNeighbors) and
// Alcor's GoalState. Each has its own tunnel set; the ports on br-tun are their union, so one's
// "exactly this set" never removes the other's tunnels (docs/goalstate-data-plane.md).
import type { Logger } from 'pino';
import { InvalidArgumentError, MerakError } from '@merak/common';
import type { PortChange } from '../vm/port-committer.js';
import { type Command, DelPort } from '../vswitch/commands.js';
import { OWNER_KEY } from '../vm/ownership.js';
import type { PortChangeRequest, PortRow, Vswitch } from '../vswitch/vswitch.js';
import type { NeighborChange } from './neighbor-table.js';
import type { NeighborOutcome, TunnelProgram } from './tunnel-program.js';
import { MARK, type PlannedTunnel, type Tunnel, type TunnelConfig, type TunnelOutcome, type TunnelSource, type TunnelType, planTunnels, sourcesOf, tunnelPortName } from './tunnels.js';
import { VLAN_MAX, VLAN_MIN, VlanMap } from './vlan-map.js';

/** The VM (or tunnel set) needs a VLAN for a VNI and all of this vhost's are in use. */
export class VlanExhaustedError extends MerakError {
  constructor(readonly vni: number, vlans: number) {
    super('CAPACITY', `no local VLAN left for VNI ${vni}: all ${vlans} VLANs of this vhost's br-int are in use by other VNIs`, { context: { vni } });
  }
}

/** What the overlay needs from OVSDB. */
export type OverlayStore = Pick<Vswitch, 'bridge' | 'listPorts' | 'applyPortChanges' | 'commit'>;

export interface OverlayOptions {
  readonly vhost: string;
  readonly logger: Logger;
  /** This vhost's tunnel endpoint; undefined when it has none. */
  readonly underlayIp: string | undefined;
  /** Why tunnels cannot work here (e.g. a userspace datapath without an underlay); undefined = they can. */
  readonly tunnelsUnavailable?: string;
  /** The VLAN range (tests of exhaustion use the full one; this is for nothing else). */
  readonly vlanRange?: { min: number; max: number };
  /** The bridge that holds the tunnel ports (br-tun); default: the store's bridge. */
  readonly tunnelBridge?: string;
}

function vniOf(row: PortRow): number | undefined {
  const text = row.externalIds[MARK.vni];
  const vni = text === undefined ? NaN : Number(text);
  return Number.isInteger(vni) && vni > 0 ? vni : undefined;
}

/** Whether a port's VNI mark is ours: a port this vhost made, or one GoalState attached (whoever made it). */
const ours = (row: PortRow, vhost: string): boolean => row.externalIds[OWNER_KEY] === vhost || row.externalIds[MARK.goalstate] === '1';

/** Our VNIs (VNI -> VLAN, from ports that carry a VNI) and the tags other ports use. */
function readMap(rows: readonly PortRow[], vhost: string): { entries: Array<[number, number]>; reserved: number[] } {
  const entries: Array<[number, number]> = [];
  const reserved: number[] = [];
  for (const row of rows) {
    if (row.tag === undefined) continue;
    const vni = ours(row, vhost) ? vniOf(row) : undefined;
    if (vni === undefined) reserved.push(row.tag);
    else entries.push([vni, row.tag]);
  }
  return { entries, reserved };
}

/** A tunnel one source wants: to `remoteIp` for `vni`, `remoteMac` the peer's underlay MAC ('' = unknown). */
export interface SourceTunnel {
  readonly remoteIp: string;
  readonly vni: number;
  readonly remoteMac: string;
}

/** What a change did to the tunnel ports: the tunnels added and removed (any source's). */
export interface TunnelChange {
  readonly added: readonly Tunnel[];
  readonly removed: readonly Tunnel[];
}

interface RecoveredSets {
  readonly coordinator: { type: TunnelType; tunnels: SourceTunnel[] };
  readonly goalstate: SourceTunnel[];
}

/**
 * Each source's tunnels found in OVSDB at start (the port marks; the peers' MACs are not
 * recorded), so that one source's first change after a restart keeps the other's ports.
 */
function recoverSets(rows: readonly PortRow[], vhost: string): RecoveredSets {
  const out: RecoveredSets = { coordinator: { type: 'vxlan', tunnels: [] }, goalstate: [] };
  for (const row of rows) {
    if (row.externalIds[OWNER_KEY] !== vhost || row.externalIds[MARK.role] !== 'tunnel') continue;
    const t = row.externalIds[MARK.tunnelType];
    const vni = vniOf(row);
    const remoteIp = row.externalIds[MARK.remoteIp];
    if ((t !== 'vxlan' && t !== 'geneve') || vni === undefined || remoteIp === undefined) continue;
    const sources = sourcesOf(row.externalIds);
    if (sources.includes('goalstate') && t === 'vxlan') out.goalstate.push({ remoteIp, vni, remoteMac: '' });
    if (!sources.includes('coordinator')) continue;
    if (out.coordinator.tunnels.length === 0) out.coordinator.type = t;
    if (t === out.coordinator.type) out.coordinator.tunnels.push({ remoteIp, vni, remoteMac: '' });
  }
  return out;
}

export class Overlay {
  private tunnelQueue: Promise<unknown> = Promise.resolve();
  private program: TunnelProgram | undefined;
  /** The coordinator's last SetTunnels (recovered from the port marks at start). */
  private coordinator: { type: TunnelType; tunnels: readonly SourceTunnel[] };
  /** GoalState's tunnels (always VXLAN: Alcor's hosts speak VXLAN). */
  private goalstate: readonly SourceTunnel[] = [];
  /** Whether br-tun's ports are known to match `goalstate` (false until its first reconcile, or after a failed one). */
  private goalstateApplied = false;

  private constructor(private readonly store: OverlayStore, private readonly vlans: VlanMap, private readonly opts: OverlayOptions, recovered: RecoveredSets) {
    this.coordinator = recovered.coordinator;
    this.goalstate = recovered.goalstate;
  }

  /** The flows of br-tun, from the neighbor table (without it, tunnels and neighbors are refused). */
  attachProgram(program: TunnelProgram): void {
    this.program = program;
  }

  /** The VNI's VLAN, assigned if it has none (the tunnel program's flows need it before any VM). */
  acquireVlan(vni: number): number | undefined {
    return this.vlans.acquire(vni);
  }

  /** Applies a change of the neighbor table (one change at a time, tunnels included). */
  updateNeighbors(change: NeighborChange): Promise<NeighborOutcome> {
    return this.serial(() => {
      if (!this.program) throw new MerakError('FAILED_PRECONDITION', this.opts.tunnelsUnavailable ?? 'this vhost has no tunnel endpoint (start the agent with --underlay-interface or --underlay-ip)');
      return this.program.update(change);
    });
  }

  /** The coordinator's tunnels as recovered or last set (the type, the VNIs and peers they need). */
  coordinatorTunnels(): { type: TunnelType; tunnels: readonly SourceTunnel[] } {
    return this.coordinator;
  }

  /** Runs `fn` after every tunnel or neighbor change in flight, and before the next. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.serial(fn);
  }

  /** The tunnel program, or why there is none (this vhost has no tunnel endpoint). */
  tunnelProgram(): TunnelProgram {
    if (!this.program) throw new MerakError('FAILED_PRECONDITION', this.opts.tunnelsUnavailable ?? 'this vhost has no tunnel endpoint (start the agent with --underlay-interface or --underlay-ip)');
    return this.program;
  }

  /**
   * Runs `fn` with the VNI's VLAN, held against collection meanwhile; a full map is collected
   * first; none left: VlanExhaustedError.
   */
  async withVlan<T>(vni: number, fn: (vlan: number) => Promise<T>): Promise<T> {
    const release = this.vlans.pin([vni]);
    try {
      if (this.vlans.get(vni) === undefined && this.vlans.free() === 0) await this.collect();
      const vlan = this.vlans.acquire(vni);
      if (vlan === undefined) throw new VlanExhaustedError(vni, this.vlans.max - this.vlans.min + 1);
      return await fn(vlan);
    } finally {
      release();
    }
  }

  /** What GoalState's tunnels were at start (what its records say), before its first change: no reconcile. */
  seedGoalStateTunnels(tunnels: readonly SourceTunnel[]): void {
    this.goalstate = tunnels;
    this.goalstateApplied = false;
  }

  /**
   * GoalState's tunnel set becomes `tunnels` (VXLAN); the ports are reconciled (union with the
   * coordinator's) in one transaction with `record` (its record of what it was told). Without a
   * change of ports, only `record` is committed. Call inside exclusive().
   */
  async setGoalStateTunnels(tunnels: readonly SourceTunnel[], record: readonly Command[]): Promise<TunnelChange> {
    const want = new Set(keysOf(tunnels));
    const have = new Set(keysOf(this.goalstate));
    const same = this.goalstateApplied && want.size === have.size && [...want].every((k) => have.has(k));
    this.goalstate = tunnels;
    if (same) {
      await this.store.commit(record, { wait: false });
      return { added: [], removed: [] };
    }
    this.goalstateApplied = false;
    const out = await this.reconcile(record);
    this.goalstateApplied = true;
    return out;
  }

  /** The tunnel ports wanted: the union of the sources' sets, each port marked with who wants it. */
  private union(): PlannedTunnel[] {
    const byName = new Map<string, PlannedTunnel & { sources: TunnelSource[] }>();
    const add = (source: TunnelSource, type: TunnelType, t: SourceTunnel): void => {
      const name = tunnelPortName(type, t.remoteIp, t.vni);
      const have = byName.get(name);
      if (have) have.sources.push(source);
      else byName.set(name, { remoteIp: t.remoteIp, vni: t.vni, type, sources: [source] });
    };
    for (const t of this.coordinator.tunnels) add('coordinator', this.coordinator.type, t);
    for (const t of this.goalstate) if (t.remoteIp !== this.opts.underlayIp) add('goalstate', 'vxlan', t);
    return [...byName.values()];
  }

  /** The peers' underlay MACs, over both sources (the coordinator's first). */
  peers(): Map<string, string> {
    const out = new Map<string, string>();
    for (const t of [...this.coordinator.tunnels, ...this.goalstate]) if (!out.get(t.remoteIp)) out.set(t.remoteIp, t.remoteMac);
    return out;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tunnelQueue.then(fn);
    this.tunnelQueue = run.catch(() => undefined);
    return run;
  }

  /** Recovers the VNI -> VLAN map from the ports OVSDB has. */
  static async open(store: OverlayStore, opts: OverlayOptions): Promise<Overlay> {
    const rows = await store.listPorts('all');
    const { entries, reserved } = readMap(rows, opts.vhost);
    const range = opts.vlanRange ?? { min: VLAN_MIN, max: VLAN_MAX };
    const vlans = new VlanMap(entries, reserved, range.min, range.max);
    if (entries.length > 0) opts.logger.info({ vnis: vlans.entries().length, reservedTags: reserved.length }, 'VNI to VLAN map recovered from OVSDB');
    return new Overlay(store, vlans, opts, recoverSets(rows, opts.vhost));
  }

  /** VNI -> local VLAN as it stands (for Info, logs and tests). */
  vlanMap(): Map<number, number> {
    return new Map(this.vlans.entries());
  }

  /**
   * When the map is full: forgets VNIs no port uses any more. `replacedTunnels` = the VNIs a
   * SetTunnels in progress will leave tunnels for (the current tunnel ports do not count).
   * Runs in the turn the OVSDB answer arrives, so a change in flight is either visible in the
   * answer (same connection, answered in order) or still pinned.
   */
  private async collect(replacedTunnels?: ReadonlySet<number>): Promise<void> {
    const rows = await this.store.listPorts('all');
    // VNIs the neighbor table holds keep their VLANs: br-tun's flows name them.
    const inUse = new Set<number>([...(replacedTunnels ?? []), ...(this.program?.vnis() ?? [])]);
    const reserved: number[] = [];
    for (const row of rows) {
      const vni = ours(row, this.opts.vhost) ? vniOf(row) : undefined;
      if (vni === undefined) {
        if (row.tag !== undefined) reserved.push(row.tag);
      } else if (!(replacedTunnels && row.externalIds[MARK.role] === 'tunnel')) {
        inUse.add(vni);
      }
    }
    const forgotten = this.vlans.collect(inUse, reserved);
    this.opts.logger.info({ forgotten: forgotten.length }, 'VLAN map full: VNIs without ports forgotten');
  }

  /** VM port changes with their VLANs; a VM whose VNI gets none fails alone (CAPACITY). */
  async applyPortChanges(changes: readonly PortChange[]): Promise<Array<{ ofport: number } | { error: Error }>> {
    const vnis = new Set<number>();
    for (const c of changes) if (c.kind === 'add' && c.vni !== 0) vnis.add(c.vni);
    if (vnis.size === 0) return this.store.applyPortChanges(changes.map((c) => (c.kind === 'add' ? { kind: 'add', name: c.name, type: c.type, externalIds: c.externalIds } : c)));
    const release = this.vlans.pin(vnis);
    try {
      const missing = [...vnis].filter((v) => this.vlans.get(v) === undefined);
      if (missing.length > this.vlans.free()) await this.collect();
      const out: Array<{ ofport: number } | { error: Error } | undefined> = [];
      const requests: PortChangeRequest[] = [];
      const at: number[] = [];
      changes.forEach((c, i) => {
        if (c.kind === 'remove') {
          requests.push(c);
          at.push(i);
          return;
        }
        let tag: number | undefined;
        if (c.vni !== 0) {
          tag = this.vlans.acquire(c.vni);
          if (tag === undefined) {
            out[i] = { error: new VlanExhaustedError(c.vni, this.vlans.max - this.vlans.min + 1) };
            return;
          }
        }
        requests.push({
          kind: 'add', name: c.name, type: c.type, externalIds: c.externalIds, tag,
          ...(c.vni !== 0 && { portExternalIds: { [MARK.vni]: String(c.vni) } }),
        });
        at.push(i);
      });
      if (requests.length > 0) {
        const results = await this.store.applyPortChanges(requests);
        results.forEach((r, k) => (out[at[k]!] = r));
      }
      return out as Array<{ ofport: number } | { error: Error }>;
    } finally {
      release();
    }
  }

  /**
   * Makes the coordinator's tunnels exactly `config` (the ports: that set and GoalState's), then
   * br-tun's flows (one SetTunnels at a time).
   */
  setTunnels(config: TunnelConfig): Promise<TunnelOutcome> {
    return this.serial(async () => {
      const { underlayIp } = this.opts;
      if (config.tunnels.length > 0 && this.opts.tunnelsUnavailable) throw new MerakError('FAILED_PRECONDITION', this.opts.tunnelsUnavailable);
      config.tunnels.forEach((t, i) => {
        if (t.remoteIp === underlayIp) throw new InvalidArgumentError(`tunnels[${i}].remote_ip`, `${t.remoteIp} is this vhost's own underlay address`);
      });
      const before = this.coordinator;
      this.coordinator = { type: config.type, tunnels: config.tunnels };
      let change: TunnelChange;
      try {
        change = await this.reconcile([]);
      } catch (e) {
        // Refused before anything changed (VLANs): the set stays the one applied.
        if (e instanceof VlanExhaustedError || (e instanceof MerakError && e.code === 'FAILED_PRECONDITION')) this.coordinator = before;
        throw e;
      }
      await this.program?.tunnelsChanged(config.type, config.tunnels, config.flood, this.peers());
      return { tunnels: config.tunnels.length, added: change.added.length, removed: change.removed.length };
    });
  }

  /** Makes br-tun's tunnel ports the union of the sources' sets, `extra` in the same transaction. */
  private async reconcile(extra: readonly Command[]): Promise<TunnelChange> {
    const tunnels = this.union();
    if (tunnels.length > 0 && this.opts.tunnelsUnavailable) throw new MerakError('FAILED_PRECONDITION', this.opts.tunnelsUnavailable);
    const bridge = this.opts.tunnelBridge ?? this.store.bridge;
    const vnis = new Set(tunnels.map((t) => t.vni));
    const release = this.vlans.pin(vnis);
    try {
      const missing = [...vnis].filter((v) => this.vlans.get(v) === undefined);
      if (missing.length > this.vlans.free()) await this.collect(vnis);
      if (missing.length > this.vlans.free()) {
        throw new VlanExhaustedError(missing[this.vlans.free()]!, this.vlans.max - this.vlans.min + 1);
      }
      for (const v of missing) this.vlans.acquire(v);
      const existing = await this.store.listPorts({ [MARK.role]: 'tunnel' });
      const plan = planTunnels({
        bridge, vhost: this.opts.vhost, type: this.coordinator.type, tunnels, existing,
        vlanOf: (vni) => this.vlans.get(vni)!,
      });
      const t0 = process.hrtime.bigint();
      const commands = [...plan.commands, ...extra];
      const portsChange = plan.commands.length > 0;
      const outcomes = await this.store.commit(commands, { wait: portsChange, newInterfaces: plan.added });
      const failed = [...outcomes].filter(([, o]) => 'error' in o);
      const wanted = new Map(tunnels.map((t) => [tunnelPortName(t.type!, t.remoteIp, t.vni), t]));
      const added = plan.added.map((name) => wanted.get(name)!);
      const removed = existing.filter((p) => !wanted.has(p.name)).map((p) => ({ remoteIp: p.externalIds[MARK.remoteIp] ?? '', vni: vniOf(p) ?? 0 }));
      if (portsChange) {
        this.opts.logger.info({
          tunnels: tunnels.length, added: plan.added.length, removed: plan.removed, retagged: plan.retagged, remarked: plan.remarked, failed: failed.length,
          ms: Number((process.hrtime.bigint() - t0) / 1_000_000n),
        }, 'tunnels reconciled');
      }
      if (failed.length > 0) {
        // Ports vswitchd could not make are taken out again; the next change retries them.
        const rows = new Map((await this.store.listPorts({ [MARK.role]: 'tunnel' })).map((p) => [p.name, p]));
        const undo = failed.map(([name]) => rows.get(name)).filter((p): p is PortRow => p !== undefined).map((p) => new DelPort(bridge, p.name, p.uuid));
        await this.store.commit(undo, { wait: false });
        const [name, o] = failed[0]!;
        throw new MerakError('OVSDB', `${failed.length} of ${plan.added.length} tunnel ports could not be added (removed again), first ${name}: ${'error' in o ? o.error.message : ''}`);
      }
      return { added, removed };
    } finally {
      release();
    }
  }
}

const keysOf = (tunnels: readonly SourceTunnel[]): string[] => tunnels.map((t) => `${t.remoteIp}/${t.vni}/${t.remoteMac}`);
