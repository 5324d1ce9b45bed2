// Writes a scenario's topology into OVN's northbound database and takes it away again.
//
// ensureNetwork: one read of what the scenario has already (by external_ids, so a restarted
// coordinator finds what it made), then one transaction with what is missing. writePorts: a chunk
// of VMs' ports in ONE transaction: each port inserted with a uuid-name and attached to its switch
// (a logical switch port is not a root row: insert and attach must commit together) and to its
// port groups. It is idempotent: asked to look first (a resend, a resumed scenario, a write whose
// answer was lost), it selects the chunk's ports by name and inserts only the missing ones.
// tearDown: port groups (their ACLs go with them), routers (their ports go with them), switches
// (their ports go with them), each tolerant of what is gone; then whatever of the scenario is left
// is listed.
import { errorMessage, ovsMap } from '@merak/common';
import type { CallStats } from '../report/call-stats.js';
import { type Json, type Operation, type OvnDatabase, idsInclude, named, rowsOf, set, uuid, uuidOf } from './database.js';
import { OvnError } from './errors.js';
import { KIND_KEY, type RowKind, SCENARIO_KEY } from './names.js';
import type { Topology, VmPortSpec } from './topology.js';

export interface EnsureResult {
  /** rows inserted now */
  readonly made: number;
  /** name -> uuid of every switch, router and port group of the scenario */
  readonly ids: ReadonlyArray<{ kind: RowKind; name: string; uuid: string }>;
}

export interface WriteResult {
  readonly inserted: readonly VmPortSpec[];
  /** ports that were there already (a resend) */
  readonly existing: number;
  /** performance.now(): the write was sent, and its commit answered (NaN when nothing was written) */
  readonly sentAt: number;
  readonly committedAt: number;
}

const TABLES_OF_SCENARIO = ['Logical_Switch', 'Logical_Switch_Port', 'Logical_Router', 'Logical_Router_Port', 'Port_Group', 'ACL'] as const;

export class NbTopologyWriter {
  private readonly switchUuid = new Map<string, string>();
  private readonly groupUuid = new Map<string, string>();

  constructor(private readonly nb: OvnDatabase, private readonly topo: Topology, private readonly stats: CallStats | undefined) {}

  private ids(kind: RowKind, extra: Record<string, string> = {}): Json {
    return ovsMap({ [SCENARIO_KEY]: this.topo.names.scenarioId, [KIND_KEY]: kind, ...extra });
  }

  private whereOurs(kind?: RowKind): Json[][] {
    return [idsInclude(kind ? { [SCENARIO_KEY]: this.topo.names.scenarioId, [KIND_KEY]: kind } : { [SCENARIO_KEY]: this.topo.names.scenarioId })];
  }

  /** Switches, routers with their ports, port groups with their ACLs: what is missing, in one transaction. */
  async ensureNetwork(): Promise<EnsureResult> {
    const t = this.topo;
    const read = await this.nb.transact([
      { op: 'select', table: 'Logical_Switch', where: this.whereOurs('switch'), columns: ['_uuid', 'name'] },
      { op: 'select', table: 'Logical_Router', where: this.whereOurs('router'), columns: ['_uuid', 'name'] },
      { op: 'select', table: 'Logical_Router_Port', where: this.whereOurs('router-port'), columns: ['_uuid', 'name'] },
      { op: 'select', table: 'Logical_Switch_Port', where: this.whereOurs('router-switch-port'), columns: ['_uuid', 'name'] },
      { op: 'select', table: 'Port_Group', where: this.whereOurs('port-group'), columns: ['_uuid', 'name'] },
    ], this.stats, 'read (set-up)');
    const [switches, routers, routerPorts, switchPorts, groups] = read.results.map((r) => new Map(rowsOf(r).map((row) => [String(row.name), uuidOf(row._uuid)])));
    const ops: Operation[] = [];
    /** uuid-name of each row inserted, by the index of its insert op */
    const inserted: Array<{ op: number; kind: RowKind; name: string }> = [];
    const ref = (map: Map<string, string>, name: string, uuidName: string): Json => (map.has(name) ? uuid(map.get(name)!) : named(uuidName));
    let n = 0;
    const nextName = (): string => `row${n++}`;
    const insert = (table: string, kind: RowKind, name: string, extra: Record<string, string>, row: Record<string, Json>, uuidName: string): void => {
      inserted.push({ op: ops.length, kind, name });
      ops.push({ op: 'insert', table, row: { name, ...row, external_ids: this.ids(kind, extra) }, 'uuid-name': uuidName });
    };
    const switchRef = new Map<string, string>();
    for (const s of t.switches) {
      if (switches!.has(s.name)) continue;
      const un = nextName();
      switchRef.set(s.name, un);
      insert('Logical_Switch', 'switch', s.name, { 'merak-vpc': s.vpc, ...(s.subnet ? { 'merak-subnet': s.subnet } : {}) }, {}, un);
    }
    for (const r of t.routers) {
      const missingPorts = r.ports.filter((p) => !routerPorts!.has(p.name));
      const portRefs: Json[] = [];
      for (const p of missingPorts) {
        const un = nextName();
        portRefs.push(named(un));
        insert('Logical_Router_Port', 'router-port', p.name, { 'merak-router': r.router, 'merak-subnet': p.subnet }, { mac: p.mac, networks: p.network }, un);
      }
      if (!routers!.has(r.name)) {
        insert('Logical_Router', 'router', r.name, { 'merak-router': r.router, 'merak-vpc': r.vpc }, { ports: set(portRefs) }, nextName());
      } else if (portRefs.length > 0) {
        ops.push({ op: 'mutate', table: 'Logical_Router', where: [['_uuid', '==', uuid(routers!.get(r.name)!)]], mutations: [['ports', 'insert', set(portRefs)]] });
      }
      for (const p of r.ports) {
        if (switchPorts!.has(p.switchPort)) continue;
        const un = nextName();
        insert('Logical_Switch_Port', 'router-switch-port', p.switchPort, { 'merak-router': r.router, 'merak-subnet': p.subnet }, {
          type: 'router', addresses: 'router', options: ovsMap({ 'router-port': p.name }),
        }, un);
        const sw = ref(switches!, p.switchName, switchRef.get(p.switchName) ?? '');
        ops.push({ op: 'mutate', table: 'Logical_Switch', where: [['_uuid', '==', sw]], mutations: [['ports', 'insert', set([named(un)])]] });
      }
    }
    for (const g of t.portGroups) {
      if (groups!.has(g.name)) continue;
      const acls: Json[] = [];
      for (const a of g.acls) {
        const un = nextName();
        acls.push(named(un));
        ops.push({
          op: 'insert', table: 'ACL', 'uuid-name': un,
          row: { direction: a.direction, priority: a.priority, match: a.match, action: a.action, external_ids: this.ids('acl', { 'merak-sg': g.sg, 'merak-acl': a.role }) },
        });
      }
      insert('Port_Group', 'port-group', g.name, { 'merak-sg': g.sg }, { acls: set(acls) }, nextName());
    }
    const ids: Array<{ kind: RowKind; name: string; uuid: string }> = [];
    const known = (kind: RowKind, m: Map<string, string>): void => {
      for (const [name, u] of m) ids.push({ kind, name, uuid: u });
    };
    known('switch', switches!);
    known('router', routers!);
    known('port-group', groups!);
    if (ops.length > 0) {
      const write = await this.nb.transact(ops, this.stats, 'write (set-up)');
      for (const i of inserted) if (i.kind === 'switch' || i.kind === 'router' || i.kind === 'port-group') ids.push({ kind: i.kind, name: i.name, uuid: uuidOf((write.results[i.op] as { uuid?: Json }).uuid) });
    }
    for (const x of ids) {
      if (x.kind === 'switch') this.switchUuid.set(x.name, x.uuid);
      else if (x.kind === 'port-group') this.groupUuid.set(x.name, x.uuid);
    }
    return { made: inserted.length, ids };
  }

  /**
   * A chunk of VM ports in one transaction (ensureNetwork first). `lookFirst`: some may exist (a
   * resend): they are selected by name and left as they are.
   */
  async writePorts(ports: readonly VmPortSpec[], lookFirst: boolean): Promise<WriteResult> {
    let todo = ports;
    if (lookFirst && ports.length > 0) {
      const read = await this.nb.transact(ports.map((p) => ({ op: 'select', table: 'Logical_Switch_Port', where: [['name', '==', p.name]], columns: ['name'] })), this.stats, 'read (VM ports of a chunk)');
      const have = new Set(read.results.flatMap((r) => rowsOf(r).map((row) => String(row.name))));
      todo = ports.filter((p) => !have.has(p.name));
    }
    if (todo.length === 0) return { inserted: [], existing: ports.length, sentAt: NaN, committedAt: NaN };
    const ops: Operation[] = [];
    const bySwitch = new Map<string, Json[]>();
    const byGroup = new Map<string, Json[]>();
    todo.forEach((p, i) => {
      const un = `p${i}`;
      const addr = `${p.mac} ${p.ip}`;
      ops.push({
        op: 'insert', table: 'Logical_Switch_Port', 'uuid-name': un,
        row: { name: p.name, addresses: addr, port_security: addr, external_ids: this.ids('vm-port', { 'merak-vm': p.vm, 'merak-host': p.host }) },
      });
      (bySwitch.get(p.switchName) ?? bySwitch.set(p.switchName, []).get(p.switchName)!).push(named(un));
      for (const g of p.portGroups) (byGroup.get(g) ?? byGroup.set(g, []).get(g)!).push(named(un));
    });
    const mutates: string[] = [];
    for (const [sw, refs] of bySwitch) {
      const u = this.switchUuid.get(sw);
      if (u === undefined) throw new OvnError('MISSING', `logical switch ${sw} is not known (its network was not set up)`);
      mutates.push(`switch ${sw}`);
      ops.push({ op: 'mutate', table: 'Logical_Switch', where: [['_uuid', '==', uuid(u)]], mutations: [['ports', 'insert', set(refs)]] });
    }
    for (const [g, refs] of byGroup) {
      const u = this.groupUuid.get(g);
      if (u === undefined) throw new OvnError('MISSING', `port group ${g} is not known (its network was not set up)`);
      mutates.push(`port group ${g}`);
      ops.push({ op: 'mutate', table: 'Port_Group', where: [['_uuid', '==', uuid(u)]], mutations: [['ports', 'insert', set(refs)]] });
    }
    const write = await this.nb.transact(ops, this.stats, 'write (VM ports of a chunk)');
    // A switch or group that is gone matched nothing: the ports, attached nowhere, were dropped.
    const gone = mutates.filter((_, k) => (write.results[todo.length + k] as { count?: number }).count !== 1);
    if (gone.length > 0) throw new OvnError('MISSING', `${gone.join(', ')} no longer in the northbound database: its VMs' ports were not written`);
    return { inserted: todo, existing: ports.length - todo.length, sentAt: write.sentAt, committedAt: write.answeredAt };
  }

  /** Everything of the scenario, in reverse; each step tolerant of what is gone. Returns what is left. */
  async tearDown(): Promise<string[]> {
    const problems: string[] = [];
    const step = async (what: string, table: string): Promise<void> => {
      try {
        await this.nb.transact([{ op: 'delete', table, where: this.whereOurs() }], this.stats, `delete (${what})`);
      } catch (e) {
        problems.push(`${what}: ${errorMessage(e)}`);
      }
    };
    await step('port groups and their ACLs', 'Port_Group');
    await step('routers and their ports', 'Logical_Router');
    await step('switches and their ports', 'Logical_Switch');
    this.switchUuid.clear();
    this.groupUuid.clear();
    return [...problems, ...(await this.leftovers().catch((e: unknown) => [`could not check what is left: ${errorMessage(e)}`]))];
  }

  /** Every row of the scenario still in the database, as "Table name". */
  async leftovers(): Promise<string[]> {
    const read = await this.nb.transact(TABLES_OF_SCENARIO.map((table) => ({ op: 'select', table, where: this.whereOurs(), columns: table === 'ACL' ? ['match'] : ['name'] })), this.stats, 'read (leftovers)');
    return read.results.flatMap((r, i) => rowsOf(r).map((row) => `${TABLES_OF_SCENARIO[i]} ${String(row.name ?? row.match)}`));
  }
}

