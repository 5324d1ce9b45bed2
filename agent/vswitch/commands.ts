// Open_vSwitch schema commands as objects (ovsdbapp's shape): each turns itself into RFC 7047
// operations on a shared builder, and a group of them becomes one transaction. Bridge membership
// changes are merged into one `mutate` per bridge, so N ports cost one mutation, not N. Pure: no
// I/O, so what a change sends is a golden test.
import { type OvsdbJson as Json, type OvsdbOperation as Operation, ovsMap } from '@merak/common';

const named = (name: string): Json => ['named-uuid', name];

/** The row called `name`, if its external_ids include `only`. */
const byName = (name: string, only: Readonly<Record<string, string>>): Json[] => [
  ['name', '==', name],
  ...(Object.keys(only).length > 0 ? [['external_ids', 'includes', ovsMap(only)]] : []),
];

/** Collects the operations of a group of commands. */
export class OpsBuilder {
  private readonly ops: Operation[] = [];
  private readonly membership = new Map<string, { insert: Json[]; remove: Json[] }>();
  private counter = 0;

  /** A fresh uuid-name for a row inserted in this transaction. */
  uuidName(prefix: string): string {
    return `${prefix}${this.counter++}`;
  }

  push(...ops: Operation[]): void {
    this.ops.push(...ops);
  }

  /** `port` (a named-uuid or uuid) joins `bridge`'s ports. */
  attach(bridge: string, port: Json): void {
    this.of(bridge).insert.push(port);
  }

  detach(bridge: string, portUuid: string): void {
    this.of(bridge).remove.push(['uuid', portUuid]);
  }

  private of(bridge: string): { insert: Json[]; remove: Json[] } {
    let m = this.membership.get(bridge);
    if (!m) this.membership.set(bridge, (m = { insert: [], remove: [] }));
    return m;
  }

  /** The operations, each bridge's membership change last (one mutate per bridge). */
  build(): Operation[] {
    const out = [...this.ops];
    for (const [bridge, m] of this.membership) {
      const mutations: Json[] = [];
      if (m.insert.length > 0) mutations.push(['ports', 'insert', ['set', m.insert]]);
      if (m.remove.length > 0) mutations.push(['ports', 'delete', ['set', m.remove]]);
      if (mutations.length > 0) out.push({ op: 'mutate', table: 'Bridge', where: [['name', '==', bridge]], mutations });
    }
    return out;
  }
}

export interface Command {
  build(b: OpsBuilder): void;
  toString(): string;
}

export interface PortSpec {
  readonly bridge: string;
  readonly name: string;
  /** Interface type: '' (a system device, e.g. a veth), 'internal', 'vxlan', 'geneve'. */
  readonly type: string;
  /** Access VLAN (Port.tag, 1..4094); undefined = a trunk (untagged port). */
  readonly tag?: number;
  /** Port.protected: no forwarding between protected ports (a full mesh of tunnels needs it). */
  readonly protected?: boolean;
  readonly options?: Readonly<Record<string, string>>;
  readonly interfaceExternalIds?: Readonly<Record<string, string>>;
  readonly portExternalIds?: Readonly<Record<string, string>>;
}

/** Equivalent to: ovs-vsctl add-port BRIDGE NAME [tag=T] [protected=true] -- set Interface NAME type=… options:…=… */
export class AddPort implements Command {
  constructor(readonly spec: PortSpec) {}

  build(b: OpsBuilder): void {
    const s = this.spec;
    const iface = b.uuidName('i');
    const port = b.uuidName('p');
    const irow: Record<string, Json> = { name: s.name, type: s.type };
    if (s.options && Object.keys(s.options).length > 0) irow.options = ovsMap(s.options);
    if (s.interfaceExternalIds && Object.keys(s.interfaceExternalIds).length > 0) irow.external_ids = ovsMap(s.interfaceExternalIds);
    const prow: Record<string, Json> = { name: s.name, interfaces: named(iface) };
    if (s.tag !== undefined) prow.tag = s.tag;
    if (s.protected) prow.protected = true;
    if (s.portExternalIds && Object.keys(s.portExternalIds).length > 0) prow.external_ids = ovsMap(s.portExternalIds);
    b.push({ op: 'insert', table: 'Interface', row: irow, 'uuid-name': iface }, { op: 'insert', table: 'Port', row: prow, 'uuid-name': port });
    b.attach(s.bridge, named(port));
  }

  toString(): string {
    const s = this.spec;
    return `AddPort(${s.bridge}, ${s.name}, type=${s.type || 'system'}${s.tag === undefined ? '' : `, tag=${s.tag}`}${s.protected ? ', protected' : ''})`;
  }
}

/** Equivalent to: ovs-vsctl del-port BRIDGE NAME (the Port and its Interface are garbage-collected). */
export class DelPort implements Command {
  constructor(readonly bridge: string, readonly name: string, readonly uuid: string) {}

  build(b: OpsBuilder): void {
    b.detach(this.bridge, this.uuid);
  }

  toString(): string {
    return `DelPort(${this.bridge}, ${this.name})`;
  }
}

/** Equivalent to: ovs-vsctl set Port NAME tag=T */
export class SetPortTag implements Command {
  constructor(readonly name: string, readonly uuid: string, readonly tag: number) {}

  build(b: OpsBuilder): void {
    b.push({ op: 'update', table: 'Port', where: [['_uuid', '==', ['uuid', this.uuid]]], row: { tag: this.tag } });
  }

  toString(): string {
    return `SetPortTag(${this.name}, ${this.tag})`;
  }
}

/**
 * Equivalent to: ovs-vsctl remove TABLE NAME external_ids K… -- set TABLE NAME external_ids:K=V…,
 * as one `mutate` (delete the keys, then insert): only the keys named are touched, whatever else
 * the map holds (a map of 10,000 entries costs what the change costs, not a rewrite of the map).
 */
export class MutateExternalIds implements Command {
  constructor(
    readonly table: 'Port' | 'Bridge',
    readonly name: string,
    readonly set: Readonly<Record<string, string>>,
    readonly remove: readonly string[] = [],
    /** Only a row whose external_ids include these. */
    readonly only: Readonly<Record<string, string>> = {},
  ) {}

  build(b: OpsBuilder): void {
    const setKeys = Object.keys(this.set);
    // Insert never overwrites a key: a key being set is deleted first (mutations apply in order).
    const gone = [...new Set([...this.remove, ...setKeys])];
    const mutations: Json[] = [];
    if (gone.length > 0) mutations.push(['external_ids', 'delete', ['set', gone]]);
    if (setKeys.length > 0) mutations.push(['external_ids', 'insert', ovsMap(this.set)]);
    if (mutations.length > 0) b.push({ op: 'mutate', table: this.table, where: byName(this.name, this.only), mutations });
  }

  toString(): string {
    return `MutateExternalIds(${this.table} ${this.name}, set ${Object.keys(this.set).length}, remove ${this.remove.length})`;
  }
}

/** Equivalent to: ovs-vsctl set Port NAME tag=T (or clear Port NAME tag), found by name. */
export class SetPortTagByName implements Command {
  constructor(readonly name: string, readonly tag: number | undefined, readonly only: Readonly<Record<string, string>> = {}) {}

  build(b: OpsBuilder): void {
    b.push({ op: 'update', table: 'Port', where: byName(this.name, this.only), row: { tag: this.tag ?? ['set', []] } });
  }

  toString(): string {
    return `SetPortTagByName(${this.name}, ${this.tag ?? 'none'})`;
  }
}

/** Equivalent to: ovs-vsctl add-br NAME -- set Bridge NAME datapath_type=TYPE [fail_mode=…] [external_ids:…] */
export class AddBridge implements Command {
  constructor(
    readonly name: string,
    readonly datapathType: string,
    readonly externalIds: Readonly<Record<string, string>> = {},
    /** 'secure': no NORMAL flow of vswitchd's own, ever (the agent's flows are the whole program). */
    readonly failMode?: 'secure' | 'standalone',
  ) {}

  build(b: OpsBuilder): void {
    const iface = b.uuidName('i');
    const port = b.uuidName('p');
    const br = b.uuidName('b');
    const row: Record<string, Json> = { name: this.name, ports: named(port), datapath_type: this.datapathType };
    if (Object.keys(this.externalIds).length > 0) row.external_ids = ovsMap(this.externalIds);
    if (this.failMode) row.fail_mode = this.failMode;
    b.push(
      { op: 'insert', table: 'Interface', row: { name: this.name, type: 'internal' }, 'uuid-name': iface },
      { op: 'insert', table: 'Port', row: { name: this.name, interfaces: named(iface) }, 'uuid-name': port },
      { op: 'insert', table: 'Bridge', row, 'uuid-name': br },
      { op: 'mutate', table: 'Open_vSwitch', where: [], mutations: [['bridges', 'insert', ['set', [named(br)]]]] },
    );
  }

  toString(): string {
    return `AddBridge(${this.name}, datapath_type=${this.datapathType}${this.failMode ? `, fail_mode=${this.failMode}` : ''})`;
  }
}

/** Equivalent to: ovs-vsctl set Bridge NAME datapath_type=TYPE */
export class SetBridgeDatapath implements Command {
  constructor(readonly name: string, readonly datapathType: string) {}

  build(b: OpsBuilder): void {
    b.push({ op: 'update', table: 'Bridge', where: [['name', '==', this.name]], row: { datapath_type: this.datapathType } });
  }

  toString(): string {
    return `SetBridgeDatapath(${this.name}, ${this.datapathType})`;
  }
}

/** Equivalent to: ovs-vsctl set Bridge NAME fail_mode=MODE */
export class SetBridgeFailMode implements Command {
  constructor(readonly name: string, readonly failMode: 'secure' | 'standalone') {}

  build(b: OpsBuilder): void {
    b.push({ op: 'update', table: 'Bridge', where: [['name', '==', this.name]], row: { fail_mode: this.failMode } });
  }

  toString(): string {
    return `SetBridgeFailMode(${this.name}, ${this.failMode})`;
  }
}

/**
 * One transaction's operations for `commands`. With `waitForVswitchd`, next_cfg is bumped and read
 * back in the same transaction (the last two operations), as ovs-vsctl does without --no-wait.
 */
export function transactionOps(commands: readonly Command[], opts: { waitForVswitchd: boolean }): Operation[] {
  const b = new OpsBuilder();
  for (const c of commands) c.build(b);
  const ops = b.build();
  if (opts.waitForVswitchd) {
    ops.push(
      { op: 'mutate', table: 'Open_vSwitch', where: [], mutations: [['next_cfg', '+=', 1]] },
      { op: 'select', table: 'Open_vSwitch', where: [], columns: ['next_cfg'] },
    );
  }
  return ops;
}
