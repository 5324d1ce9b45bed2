// The vhost's Open vSwitch as the agent needs it: bridges (br-int, and br-phy for a userspace
// underlay), ports added and removed in one transaction per group, and readiness as ovs-vsctl
// defines it: vswitchd has applied the change (cur_cfg caught up with next_cfg) and each new
// interface has an ofport and no error. The schema layer: it knows tables and columns, not VMs,
// VNIs or tunnels (agent/overlay/ decides those), nor the owner mark's format (agent/vm/ownership.ts).
import type { Logger } from 'pino';
import { MerakError } from '@merak/common';
import { AddBridge, AddPort, type Command, DelPort, MutateExternalIds, SetBridgeDatapath, SetBridgeFailMode, SetPortTagByName, transactionOps } from './commands.js';
import { type OvsdbJson as Json, OvsdbClient, fromOvsMap, ovsMap, setMembers } from '@merak/common';

/** The external_ids put on every bridge and port this connection makes: which agent owns it. */
export type OwnerMark = Readonly<Record<string, string>>;

const uuidOf = (v: Json | undefined): string | undefined => (Array.isArray(v) && v[0] === 'uuid' ? String(v[1]) : undefined);

export type PortChangeRequest =
  | {
      readonly kind: 'add';
      readonly name: string;
      readonly type: '' | 'internal';
      readonly externalIds: Readonly<Record<string, string>>;
      /** Port.tag (access VLAN); undefined = untagged. */
      readonly tag?: number;
      /** Extra Port external_ids (the owner mark is always added). */
      readonly portExternalIds?: Readonly<Record<string, string>>;
      /** Another bridge than the agent's (OVN's integration bridge). */
      readonly bridge?: string;
    }
  | { readonly kind: 'remove'; readonly name: string; readonly bridge?: string };

/** A Port row as listed. */
export interface PortRow {
  readonly uuid: string;
  readonly name: string;
  readonly tag: number | undefined;
  readonly externalIds: Readonly<Record<string, string>>;
}

/** An Interface row: its name, its ofport (-1 = none yet) and its external_ids. */
export interface InterfaceRow {
  readonly name: string;
  readonly ofport: number;
  readonly externalIds: Readonly<Record<string, string>>;
}

/** Per new interface after vswitchd applied a change: its ofport, or why it has none. */
export type InterfaceOutcome = { ofport: number } | { error: Error };

/**
 * The commands for a group of VM port changes: adds as they come, removes of the ports found
 * (`uuids`: name -> Port uuid; a port not found is already gone), each on its own bridge if it
 * names one, else on `bridge`.
 */
export function portChangeCommands(bridge: string, owner: OwnerMark, changes: readonly PortChangeRequest[], uuids: ReadonlyMap<string, string>): Command[] {
  const commands: Command[] = [];
  for (const c of changes) {
    if (c.kind === 'add') {
      commands.push(new AddPort({
        bridge: c.bridge ?? bridge, name: c.name, type: c.type, tag: c.tag, interfaceExternalIds: c.externalIds,
        portExternalIds: { ...owner, ...c.portExternalIds },
      }));
    } else {
      const uuid = uuids.get(c.name);
      if (uuid) commands.push(new DelPort(c.bridge ?? bridge, c.name, uuid));
    }
  }
  return commands;
}

/**
 * The transaction committed, but ovs-vswitchd did not apply it in time: what it added is in
 * OVSDB, so a caller must neither add it again nor leave it there when it gives up.
 */
export class VswitchdNotAppliedError extends MerakError {
  constructor(readonly target: number, readonly current: number, readonly timeoutMs: number) {
    super('TIMEOUT', `ovs-vswitchd did not apply configuration ${target} in ${timeoutMs} ms (it is at ${current})`);
  }
}

export class Vswitch {
  private curCfg = -1;
  private ovsVersion = '';
  private waiters: Array<{ target: number; resolve(): void }> = [];

  private constructor(
    private readonly client: OvsdbClient,
    readonly bridge: string,
    private readonly owner: OwnerMark,
    private readonly logger: Logger,
    private readonly applyTimeoutMs: number,
  ) {}

  /** `owner`: the mark put on what this connection makes, and what `listPorts` looks for. */
  static async connect(socket: string, bridge: string, owner: OwnerMark, logger: Logger, applyTimeoutMs = 60_000): Promise<Vswitch> {
    const client = await OvsdbClient.connect(socket);
    const vs = new Vswitch(client, bridge, owner, logger, applyTimeoutMs);
    await client.monitor('merak-cfg', { Open_vSwitch: { columns: ['cur_cfg', 'ovs_version'] } }, (u) => vs.onUpdate(u));
    return vs;
  }

  private onUpdate(update: Json): void {
    const rows = (update as { Open_vSwitch?: Record<string, { new?: { cur_cfg?: number; ovs_version?: Json } }> } | null)?.Open_vSwitch ?? {};
    for (const r of Object.values(rows)) {
      if (typeof r.new?.cur_cfg === 'number') this.curCfg = r.new.cur_cfg;
      const v = setMembers(r.new?.ovs_version)[0];
      if (typeof v === 'string') this.ovsVersion = v;
    }
    this.waiters = this.waiters.filter((w) => (this.curCfg >= w.target ? (w.resolve(), false) : true));
  }

  /** Resolves when vswitchd has applied configuration `target` (what ovs-vsctl waits for). */
  private applied(target: number): Promise<void> {
    if (this.curCfg >= target) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new VswitchdNotAppliedError(target, this.curCfg, this.applyTimeoutMs));
      }, this.applyTimeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push({ target, resolve: done });
    });
  }

  /**
   * Runs `commands` as one transaction. With `wait`, next_cfg is bumped in it and this resolves
   * once vswitchd applied it; `newInterfaces` are then checked for an ofport and no error.
   */
  async commit(commands: readonly Command[], opts: { wait: boolean; newInterfaces?: readonly string[] }): Promise<Map<string, InterfaceOutcome>> {
    const outcomes = new Map<string, InterfaceOutcome>();
    if (commands.length === 0) return outcomes;
    const ops = transactionOps(commands, { waitForVswitchd: opts.wait });
    this.logger.debug({ commands: commands.length, first: String(commands[0]) }, 'OVSDB transaction');
    const result = await this.client.transact(ops);
    if (!opts.wait) return outcomes;
    const root = (result[ops.length - 1] as { rows: Array<{ next_cfg: number }> }).rows[0];
    if (!root) throw new MerakError('OVSDB', 'the database has no Open_vSwitch row (is it initialised? ovs-vsctl init)');
    await this.applied(root.next_cfg);
    const names = opts.newInterfaces ?? [];
    if (names.length === 0) return outcomes;
    const rows = await this.client.transact(names.map((name) => ({ op: 'select', table: 'Interface', where: [['name', '==', name]], columns: ['ofport', 'error'] })));
    names.forEach((name, i) => {
      const r = (rows[i] as { rows: Array<{ ofport: Json; error: Json }> }).rows[0];
      const ofport = setMembers(r?.ofport)[0];
      const error = setMembers(r?.error)[0];
      const port = typeof ofport === 'number' ? ofport : -1;
      const why = typeof error === 'string' ? error : '';
      outcomes.set(name, why || port <= 0 ? { error: new MerakError('OVSDB', `ovs-vswitchd could not add ${name}: ${why || `ofport ${port}`}`) } : { ofport: port });
    });
    return outcomes;
  }

  /** Equivalent to: ovs-vsctl --may-exist add-br BRIDGE -- set Bridge BRIDGE datapath_type=TYPE */
  async ensureBridge(datapathType: string, name = this.bridge, externalIds: Readonly<Record<string, string>> = {}): Promise<void> {
    const [sel] = await this.client.transact([{ op: 'select', table: 'Bridge', where: [['name', '==', name]], columns: ['datapath_type'] }]);
    const row = (sel as { rows: Array<{ datapath_type: string }> }).rows[0];
    if (row) {
      if (row.datapath_type !== datapathType) await this.commit([new SetBridgeDatapath(name, datapathType)], { wait: true });
      return;
    }
    await this.commit([new AddBridge(name, datapathType, externalIds)], { wait: true });
  }

  /**
   * Equivalent to: ovs-vsctl --may-exist add-br BRIDGE -- set Bridge BRIDGE datapath_type=TYPE --
   * --may-exist add-port BRIDGE IFACE. Refuses an IFACE that is a port of another bridge.
   * Resolves to whether anything changed.
   */
  async ensureUplinkBridge(bridge: string, iface: string, datapathType: string): Promise<boolean> {
    const [bridges, ports] = await this.client.transact([
      { op: 'select', table: 'Bridge', where: [], columns: ['name', 'ports', 'datapath_type'] },
      { op: 'select', table: 'Port', where: [['name', '==', iface]], columns: ['_uuid'] },
    ]);
    const rows = (bridges as { rows: Array<{ name: string; ports: Json; datapath_type: string }> }).rows;
    const portUuid = uuidOf((ports as { rows: Array<{ _uuid: Json }> }).rows[0]?._uuid);
    const holder = portUuid ? rows.find((r) => setMembers(r.ports).some((p) => uuidOf(p) === portUuid)) : undefined;
    if (holder && holder.name !== bridge) throw new MerakError('OVSDB', `${iface} is already a port of bridge ${holder.name}, not ${bridge}`);
    const existing = rows.find((r) => r.name === bridge);
    const commands: Command[] = [];
    if (!existing) commands.push(new AddBridge(bridge, datapathType, { ...this.owner }));
    else if (existing.datapath_type !== datapathType) commands.push(new SetBridgeDatapath(bridge, datapathType));
    if (!holder) commands.push(new AddPort({ bridge, name: iface, type: '' }));
    if (commands.length === 0) return false;
    const outcomes = await this.commit(commands, { wait: true, newInterfaces: holder ? [] : [iface] });
    const o = outcomes.get(iface);
    if (o && 'error' in o) throw o.error;
    return true;
  }

  /**
   * A bridge for flows only, linked to this one by a patch pair: equivalent to ovs-vsctl
   * --may-exist add-br TUN -- set Bridge TUN datapath_type=TYPE fail_mode=secure --
   * --may-exist add-port BRIDGE ON_INT -- set Interface ON_INT type=patch options:peer=ON_TUN --
   * --may-exist add-port TUN ON_TUN -- set Interface ON_TUN type=patch options:peer=ON_INT.
   * Resolves to the ofport of ON_TUN (the patch port on TUN).
   */
  async ensureFlowBridge(tun: string, datapathType: string, patch: { onInt: string; onTun: string }): Promise<number> {
    const [bridges, ports] = await this.client.transact([
      { op: 'select', table: 'Bridge', where: [['name', '==', tun]], columns: ['datapath_type', 'fail_mode'] },
      { op: 'select', table: 'Port', where: [], columns: ['name'] },
    ]);
    const row = (bridges as { rows: Array<{ datapath_type: string; fail_mode: Json }> }).rows[0];
    const have = new Set((ports as { rows: Array<{ name: string }> }).rows.map((r) => r.name));
    const commands: Command[] = [];
    if (!row) commands.push(new AddBridge(tun, datapathType, { ...this.owner }, 'secure'));
    else {
      if (row.datapath_type !== datapathType) commands.push(new SetBridgeDatapath(tun, datapathType));
      if (setMembers(row.fail_mode)[0] !== 'secure') commands.push(new SetBridgeFailMode(tun, 'secure'));
    }
    const added: string[] = [];
    const pair: Array<[string, string, string]> = [[this.bridge, patch.onInt, patch.onTun], [tun, patch.onTun, patch.onInt]];
    for (const [bridge, name, peer] of pair) {
      if (have.has(name)) continue;
      commands.push(new AddPort({ bridge, name, type: 'patch', options: { peer }, portExternalIds: { ...this.owner } }));
      added.push(name);
    }
    const outcomes = await this.commit(commands, { wait: commands.length > 0, newInterfaces: added });
    for (const o of outcomes.values()) if ('error' in o) throw o.error;
    const ofport = (await this.interfaceOfports()).get(patch.onTun);
    if (ofport === undefined || ofport <= 0) throw new MerakError('OVSDB', `${patch.onTun} on ${tun} has no ofport`);
    return ofport;
  }

  /**
   * Every Interface's ofport by name (those vswitchd has not given one are left out); with
   * `names`, only those interfaces' (one select each, in one transaction).
   */
  async interfaceOfports(names?: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (names?.length === 0) return out;
    const ops = names === undefined
      ? [{ op: 'select', table: 'Interface', where: [], columns: ['name', 'ofport'] }]
      : names.map((n) => ({ op: 'select', table: 'Interface', where: [['name', '==', n]], columns: ['name', 'ofport'] }));
    for (const r of await this.client.transact(ops)) {
      for (const row of (r as { rows: Array<{ name: string; ofport: Json }> }).rows) {
        const ofport = setMembers(row.ofport)[0];
        if (typeof ofport === 'number' && ofport > 0) out.set(row.name, ofport);
      }
    }
    return out;
  }

  /** Adds and removes VM ports in one transaction; per change, the new ofport or why it failed. */
  async applyPortChanges(changes: readonly PortChangeRequest[]): Promise<Array<{ ofport: number } | { error: Error }>> {
    const removes = changes.filter((c) => c.kind === 'remove');
    const uuids = new Map<string, string>();
    if (removes.length > 0) {
      const found = await this.client.transact(removes.map((c) => ({ op: 'select', table: 'Port', where: [['name', '==', c.name]], columns: ['_uuid'] })));
      removes.forEach((c, i) => {
        const u = uuidOf((found[i] as { rows: Array<{ _uuid: Json }> }).rows[0]?._uuid);
        if (u) uuids.set(c.name, u);
      });
    }
    const commands = portChangeCommands(this.bridge, this.owner, changes, uuids);
    const added = changes.filter((c) => c.kind === 'add').map((c) => c.name);
    // Only new ports need vswitchd to have applied the change (they need an ofport); a removal is
    // done once OVSDB committed it, and waiting for vswitchd there would cost ~1 s per group.
    const outcomes = await this.commit(commands, { wait: added.length > 0, newInterfaces: added });
    return changes.map((c) => (c.kind === 'remove' ? { ofport: 0 } : outcomes.get(c.name)!));
  }

  /**
   * Equivalent to: ovs-vsctl set Port NAME tag=T external_ids:K=V… -- remove Port NAME external_ids
   * K… (tag undefined: clear Port NAME tag), in one transaction; waits for vswitchd to apply it.
   * Resolves to false when OVSDB has no Port of that name (nothing changed); with `only`, also
   * when the port's external_ids do not include it.
   */
  async setPortTag(name: string, tag: number | undefined, externalIds: { set?: Readonly<Record<string, string>>; remove?: readonly string[] }, only: Readonly<Record<string, string>> = {}): Promise<boolean> {
    const ops = transactionOps([new SetPortTagByName(name, tag, only), new MutateExternalIds('Port', name, externalIds.set ?? {}, externalIds.remove ?? [], only)], { waitForVswitchd: true });
    const result = await this.client.transact(ops);
    if ((result[0] as { count?: number }).count === 0) return false;
    const root = (result[ops.length - 1] as { rows: Array<{ next_cfg: number }> }).rows[0];
    if (!root) throw new MerakError('OVSDB', 'the database has no Open_vSwitch row (is it initialised? ovs-vsctl init)');
    await this.applied(root.next_cfg);
    return true;
  }

  /** A bridge's external_ids; undefined when there is no such bridge. */
  async bridgeExternalIds(name: string): Promise<Record<string, string> | undefined> {
    const [r] = await this.client.transact([{ op: 'select', table: 'Bridge', where: [['name', '==', name]], columns: ['external_ids'] }]);
    const row = (r as { rows: Array<{ external_ids: Json }> }).rows[0];
    return row && fromOvsMap(row.external_ids);
  }

  /** Ports whose external_ids include `match`, whoever made them (no owner mark required). */
  async portsMarked(match: Readonly<Record<string, string>>): Promise<PortRow[]> {
    return this.selectPorts([['external_ids', 'includes', ovsMap(match)]]);
  }

  /** Ports whose external_ids include this connection's owner mark and `match`; all ports with `all`. */
  async listPorts(match: Readonly<Record<string, string>> | 'all'): Promise<PortRow[]> {
    return this.selectPorts(match === 'all' ? [] : [['external_ids', 'includes', ovsMap({ ...this.owner, ...match })]]);
  }

  /** The ports of these names that carry this connection's owner mark and `match` (one select each, in one transaction). */
  async portsNamed(names: readonly string[], match: Readonly<Record<string, string>>): Promise<PortRow[]> {
    if (names.length === 0) return [];
    const marks = ovsMap({ ...this.owner, ...match });
    return this.selectPorts(...names.map((n): Json[] => [['name', '==', n], ['external_ids', 'includes', marks]]));
  }

  private async selectPorts(...wheres: Json[][]): Promise<PortRow[]> {
    const results = await this.client.transact(wheres.map((where) => ({ op: 'select', table: 'Port', where, columns: ['_uuid', 'name', 'tag', 'external_ids'] })));
    return results.flatMap((r) => (r as { rows: Array<{ _uuid: Json; name: string; tag: Json; external_ids: Json }> }).rows).map((row) => {
      const tag = setMembers(row.tag)[0];
      return { uuid: uuidOf(row._uuid) ?? '', name: row.name, tag: typeof tag === 'number' ? tag : undefined, externalIds: fromOvsMap(row.external_ids) };
    });
  }

  /** Interfaces whose external_ids include `match`. */
  async interfacesMarked(match: Readonly<Record<string, string>>): Promise<InterfaceRow[]> {
    const [r] = await this.client.transact([{ op: 'select', table: 'Interface', where: [['external_ids', 'includes', ovsMap(match)]], columns: ['name', 'ofport', 'external_ids'] }]);
    return (r as { rows: Array<{ name: string; ofport: Json; external_ids: Json }> }).rows
      .map((row) => ({ name: row.name, ofport: Number(setMembers(row.ofport)[0] ?? -1), externalIds: fromOvsMap(row.external_ids) }));
  }

  async version(): Promise<string> {
    return this.ovsVersion;
  }

  echo(): Promise<void> {
    return this.client.echo();
  }

  close(): void {
    this.client.close();
    this.logger.debug('OVSDB connection closed');
  }
}
