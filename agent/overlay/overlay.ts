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
import type { PortChangeRequest, PortRow, Vswitch } from '../vswitch/vswitch.js';
import type { NeighborChange } from './neighbor-table.js';
import type { NeighborOutcome, TunnelProgram } from './tunnel-program.js';
import { type RecoveredSets, type SourceTunnel, type TunnelChange, keysOf, ours, readMap, recoverSets, tunnelKey, vniOf } from './overlay-marks.js';
import { MARK, type PlannedTunnel, type TunnelConfig, type TunnelDelta, type TunnelOutcome, type TunnelSource, type TunnelType, allTunnels, deltaMismatch, planTunnels, tunnelPortName } from './tunnels.js';
import { VLAN_MAX, VLAN_MIN, VlanMap } from './vlan-map.js';

/** The VM (or tunnel set) needs a VLAN for a VNI and all of this vhost's are in use. */
export class VlanExhaustedError extends MerakError {
  constructor(readonly vni: number, vlans: number) {
    super('CAPACITY', `no local VLAN left for VNI ${vni}: all ${vlans} VLANs of this vhost's br-int are in use by other VNIs`, { context: { vni } });
  }
}

/** What the overlay needs from OVSDB. */
export type OverlayStore = Pick<Vswitch, 'bridge' | 'listPorts' | 'portsNamed' | 'applyPortChanges' | 'commit'>;

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

export class Overlay {
  private tunnelQueue: Promise<unknown> = Promise.resolve();
  private program: TunnelProgram | undefined;
  /** The coordinator's set: its last SetTunnels and the UpdateTunnels since (recovered from the port marks at start), by tunnelKey. */
  private coordinator: { type: TunnelType; tunnels: Map<string, SourceTunnel> };
  /** The type and flood of the coordinator's last SetTunnels in this process (a delta must match them); undefined = none yet. */
  private held: { type: TunnelType; flood: boolean } | undefined;
  /** GoalState's tunnels (always VXLAN: Alcor's hosts speak VXLAN). */
  private goalstate: readonly SourceTunnel[] = [];
  /** Whether br-tun's ports are known to match `goalstate` (false until its first reconcile, or after a failed one). */
  private goalstateApplied = false;

  private constructor(private readonly store: OverlayStore, private readonly vlans: VlanMap, private readonly opts: OverlayOptions, recovered: RecoveredSets) {
    this.coordinator = { type: recovered.coordinator.type, tunnels: byKey(recovered.coordinator.tunnels) };
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
    return { type: this.coordinator.type, tunnels: [...this.coordinator.tunnels.values()] };
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
    for (const t of this.coordinator.tunnels.values()) add('coordinator', this.coordinator.type, t);
    for (const t of this.goalstate) if (t.remoteIp !== this.opts.underlayIp) add('goalstate', 'vxlan', t);
    return [...byName.values()];
  }

  /** The union restricted to the coordinator's tunnels `of` (those still wanted by either source). */
  private unionOf(of: ReadonlyArray<{ remoteIp: string; vni: number }>): PlannedTunnel[] {
    const type = this.coordinator.type;
    const gs = type === 'vxlan' ? new Set(this.goalstate.filter((t) => t.remoteIp !== this.opts.underlayIp).map(tunnelKey)) : new Set<string>();
    const out: PlannedTunnel[] = [];
    for (const t of of) {
      const sources: TunnelSource[] = [];
      if (this.coordinator.tunnels.has(tunnelKey(t))) sources.push('coordinator');
      if (gs.has(tunnelKey(t))) sources.push('goalstate');
      if (sources.length > 0) out.push({ remoteIp: t.remoteIp, vni: t.vni, type, sources });
    }
    return out;
  }

  /** The peers' underlay MACs, over both sources (the coordinator's first). */
  peers(): Map<string, string> {
    const out = new Map<string, string>();
    for (const t of [...this.coordinator.tunnels.values(), ...this.goalstate]) if (!out.get(t.remoteIp)) out.set(t.remoteIp, t.remoteMac);
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
  setTunnels(whole: TunnelConfig): Promise<TunnelOutcome> {
    return this.serial(async () => {
      const config = { ...whole, tunnels: allTunnels(whole) };
      const { underlayIp } = this.opts;
      if (config.tunnels.length > 0 && this.opts.tunnelsUnavailable) throw new MerakError('FAILED_PRECONDITION', this.opts.tunnelsUnavailable);
      config.tunnels.forEach((t, i) => {
        if (t.remoteIp === underlayIp) throw new InvalidArgumentError(`tunnels[${i}].remote_ip`, `${t.remoteIp} is this vhost's own underlay address`);
      });
      const before = this.coordinator;
      this.coordinator = { type: config.type, tunnels: byKey(config.tunnels) };
      // Until this call is through, what the ports hold is not known for sure: no delta meanwhile.
      this.held = undefined;
      let change: TunnelChange;
      try {
        change = await this.reconcile([]);
      } catch (e) {
        // Refused before anything changed (VLANs): the set stays the one applied.
        if (refusedBeforeChange(e)) this.coordinator = before;
        throw e;
      }
      await this.program?.tunnelsChanged(config.type, config.tunnels, config.flood, this.peers());
      this.held = { type: config.type, flood: config.flood };
      return { tunnels: config.tunnels.length, added: change.added.length, removed: change.removed.length };
    });
  }

  /**
   * Changes the coordinator's set by `delta` (UpdateTunnels): only the ports of the tunnels it
   * adds or removes are touched (read by name, changed in one transaction), and only the flows
   * behind them. TunnelSetUnknownError when it does not fit the set held (nothing changes).
   */
  updateTunnels(delta: TunnelDelta): Promise<TunnelOutcome> {
    return this.serial(async () => {
      const refused = deltaMismatch(this.held, delta);
      if (refused) throw refused;
      if (delta.upsert.length > 0 && this.opts.tunnelsUnavailable) throw new MerakError('FAILED_PRECONDITION', this.opts.tunnelsUnavailable);
      delta.upsert.forEach((t, i) => {
        if (t.remoteIp === this.opts.underlayIp) throw new InvalidArgumentError(`upsert[${i}].remote_ip`, `${t.remoteIp} is this vhost's own underlay address`);
      });
      const set = this.coordinator.tunnels;
      const undo = new Map<string, SourceTunnel | undefined>();
      const keep = (k: string): void => {
        if (!undo.has(k)) undo.set(k, set.get(k));
      };
      for (const k of delta.remove) {
        keep(tunnelKey(k));
        set.delete(tunnelKey(k));
      }
      for (const t of delta.upsert) {
        keep(tunnelKey(t));
        set.set(tunnelKey(t), { remoteIp: t.remoteIp, vni: t.vni, remoteMac: t.remoteMac });
      }
      // The tunnels whose port may change: those added or removed (a new MAC changes only the peers).
      const touched = [...undo].filter(([k, was]) => (was === undefined) !== (set.get(k) === undefined)).map(([k, was]) => was ?? set.get(k)!);
      let change: TunnelChange;
      this.held = undefined;
      try {
        change = touched.length === 0 ? { added: [], removed: [] } : await this.reconcile([], touched);
      } catch (e) {
        if (refusedBeforeChange(e)) {
          for (const [k, was] of undo) {
            if (was) set.set(k, was);
            else set.delete(k);
          }
          this.held = { type: delta.type, flood: delta.flood };
        }
        throw e;
      }
      const vnis = new Set<number>();
      for (const t of set.values()) vnis.add(t.vni);
      await this.program?.tunnelsUpdated(change, vnis, this.peers());
      this.held = { type: delta.type, flood: delta.flood };
      return { tunnels: set.size, added: change.added.length, removed: change.removed.length };
    });
  }

  /**
   * Makes br-tun's tunnel ports the union of the sources' sets, `extra` in the same transaction;
   * with `only`, only the ports of those tunnels (read by name: the others are not looked at).
   */
  private async reconcile(extra: readonly Command[], only?: ReadonlyArray<{ remoteIp: string; vni: number }>): Promise<TunnelChange> {
    const tunnels = only ? this.unionOf(only) : this.union();
    if (tunnels.length > 0 && this.opts.tunnelsUnavailable) throw new MerakError('FAILED_PRECONDITION', this.opts.tunnelsUnavailable);
    const bridge = this.opts.tunnelBridge ?? this.store.bridge;
    const vnis = new Set(tunnels.map((t) => t.vni));
    const release = this.vlans.pin(vnis);
    try {
      const missing = [...vnis].filter((v) => this.vlans.get(v) === undefined);
      // A delta leaves the other tunnels in place: their VNIs are in use as well.
      if (missing.length > this.vlans.free()) await this.collect(only ? new Set(this.union().map((t) => t.vni)) : vnis);
      if (missing.length > this.vlans.free()) {
        throw new VlanExhaustedError(missing[this.vlans.free()]!, this.vlans.max - this.vlans.min + 1);
      }
      for (const v of missing) this.vlans.acquire(v);
      const existing = only
        ? await this.store.portsNamed(only.map((t) => tunnelPortName(this.coordinator.type, t.remoteIp, t.vni)), { [MARK.role]: 'tunnel' })
        : await this.store.listPorts({ [MARK.role]: 'tunnel' });
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

const byKey = (tunnels: readonly SourceTunnel[]): Map<string, SourceTunnel> => new Map(tunnels.map((t) => [tunnelKey(t), t]));

/** Refused before any port changed (no VLAN left, no tunnels here): the set stays the one applied. */
const refusedBeforeChange = (e: unknown): boolean => e instanceof VlanExhaustedError || (e instanceof MerakError && e.code === 'FAILED_PRECONDITION');
