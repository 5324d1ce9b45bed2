// The vhost's Open vSwitch as the agent needs it: br-int, VM ports added and removed in one
// transaction per group, and readiness as ovs-vsctl defines it: vswitchd has applied the change
// (cur_cfg caught up with next_cfg) and each new interface has an ofport and no error.
import type { Logger } from 'pino';
import { MerakError } from '../errors.js';
import type { VmInterfaceRow, VmInterfaceStore } from '../vm/kernel-executor.js';
import type { PortChange } from '../vm/port-committer.js';
import { type Json, OvsdbClient, type Operation, fromOvsMap, ovsMap, setMembers } from './ovsdb-client.js';

const uuidOf = (v: Json | undefined): string | undefined => (Array.isArray(v) && v[0] === 'uuid' ? String(v[1]) : undefined);
const named = (name: string): Json => ['named-uuid', name];

export class Vswitch implements VmInterfaceStore {
  private curCfg = -1;
  private ovsVersion = '';
  private waiters: Array<{ target: number; resolve(): void }> = [];

  private constructor(
    private readonly client: OvsdbClient,
    private readonly bridge: string,
    private readonly vhost: string,
    private readonly logger: Logger,
    private readonly applyTimeoutMs: number,
  ) {}

  static async connect(socket: string, bridge: string, vhost: string, logger: Logger, applyTimeoutMs = 60_000): Promise<Vswitch> {
    const client = await OvsdbClient.connect(socket);
    const vs = new Vswitch(client, bridge, vhost, logger, applyTimeoutMs);
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
        reject(new MerakError('TIMEOUT', `ovs-vswitchd did not apply configuration ${target} in ${this.applyTimeoutMs} ms (it is at ${this.curCfg})`));
      }, this.applyTimeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push({ target, resolve: done });
    });
  }

  /** Runs `ops` with next_cfg bumped in the same transaction, then waits until vswitchd applied it. */
  private async commitAndWait(ops: Operation[]): Promise<Json[]> {
    const result = await this.client.transact([
      ...ops,
      { op: 'mutate', table: 'Open_vSwitch', where: [], mutations: [['next_cfg', '+=', 1]] },
      { op: 'select', table: 'Open_vSwitch', where: [], columns: ['next_cfg'] },
    ]);
    const root = (result[ops.length + 1] as { rows: Array<{ next_cfg: number }> }).rows[0];
    if (!root) throw new MerakError('OVSDB', 'the database has no Open_vSwitch row (is it initialised? ovs-vsctl init)');
    const nextCfg = root.next_cfg;
    await this.applied(nextCfg);
    return result;
  }

  /** Equivalent to: ovs-vsctl --may-exist add-br BRIDGE -- set Bridge BRIDGE datapath_type=TYPE */
  async ensureBridge(datapathType: string): Promise<void> {
    const [sel] = await this.client.transact([{ op: 'select', table: 'Bridge', where: [['name', '==', this.bridge]], columns: ['_uuid', 'datapath_type'] }]);
    const row = (sel as { rows: Array<{ datapath_type: string }> }).rows[0];
    if (row) {
      if (row.datapath_type !== datapathType) {
        await this.commitAndWait([{ op: 'update', table: 'Bridge', where: [['name', '==', this.bridge]], row: { datapath_type: datapathType } }]);
      }
      return;
    }
    await this.commitAndWait([
      { op: 'insert', table: 'Interface', row: { name: this.bridge, type: 'internal' }, 'uuid-name': 'brif' },
      { op: 'insert', table: 'Port', row: { name: this.bridge, interfaces: named('brif') }, 'uuid-name': 'brport' },
      { op: 'insert', table: 'Bridge', row: { name: this.bridge, ports: named('brport'), datapath_type: datapathType }, 'uuid-name': 'br' },
      { op: 'mutate', table: 'Open_vSwitch', where: [], mutations: [['bridges', 'insert', ['set', [named('br')]]]] },
    ]);
  }

  /** Adds and removes VM ports in one transaction; per change, the new ofport or why it failed. */
  async applyPortChanges(changes: readonly PortChange[]): Promise<Array<{ ofport: number } | { error: Error }>> {
    const removes = changes.filter((c) => c.kind === 'remove');
    const uuids = new Map<string, string>();
    if (removes.length > 0) {
      const found = await this.client.transact(removes.map((c) => ({ op: 'select', table: 'Port', where: [['name', '==', c.name]], columns: ['_uuid'] })));
      removes.forEach((c, i) => {
        const u = uuidOf((found[i] as { rows: Array<{ _uuid: Json }> }).rows[0]?._uuid);
        if (u) uuids.set(c.name, u);
      });
    }
    const ops: Operation[] = [];
    const newPorts: Json[] = [];
    changes.forEach((c, i) => {
      if (c.kind !== 'add') return;
      ops.push({ op: 'insert', table: 'Interface', row: { name: c.name, type: c.type, external_ids: ovsMap(c.externalIds) }, 'uuid-name': `i${i}` });
      ops.push({ op: 'insert', table: 'Port', row: { name: c.name, interfaces: named(`i${i}`), external_ids: ovsMap({ 'merak-vhost': this.vhost }) }, 'uuid-name': `p${i}` });
      newPorts.push(named(`p${i}`));
    });
    const mutations: Json[] = [];
    if (newPorts.length > 0) mutations.push(['ports', 'insert', ['set', newPorts]]);
    if (uuids.size > 0) mutations.push(['ports', 'delete', ['set', [...uuids.values()].map((u) => ['uuid', u])]]);
    if (mutations.length === 0) return changes.map(() => ({ ofport: 0 }));
    ops.push({ op: 'mutate', table: 'Bridge', where: [['name', '==', this.bridge]], mutations });
    const added = changes.filter((c) => c.kind === 'add');
    // Only new ports need vswitchd to have applied the change (they need an ofport); a removal is
    // done once OVSDB committed it, and waiting for vswitchd there would cost ~1 s per group.
    if (added.length > 0) await this.commitAndWait(ops);
    else await this.client.transact(ops);
    const state = new Map<string, { ofport: number; error: string }>();
    if (added.length > 0) {
      const rows = await this.client.transact(added.map((c) => ({ op: 'select', table: 'Interface', where: [['name', '==', c.name]], columns: ['ofport', 'error'] })));
      added.forEach((c, i) => {
        const r = (rows[i] as { rows: Array<{ ofport: Json; error: Json }> }).rows[0];
        const ofport = setMembers(r?.ofport)[0];
        const error = setMembers(r?.error)[0];
        state.set(c.name, { ofport: typeof ofport === 'number' ? ofport : -1, error: typeof error === 'string' ? error : '' });
      });
    }
    return changes.map((c) => {
      if (c.kind === 'remove') return { ofport: 0 };
      const s = state.get(c.name)!;
      if (s.error || s.ofport <= 0) return { error: new MerakError('OVSDB', `ovs-vswitchd could not add ${c.name}: ${s.error || `ofport ${s.ofport}`}`) };
      return { ofport: s.ofport };
    });
  }

  async list(): Promise<VmInterfaceRow[]> {
    const [r] = await this.client.transact([{ op: 'select', table: 'Interface', where: [], columns: ['name', 'ofport', 'external_ids'] }]);
    return (r as { rows: Array<{ name: string; ofport: Json; external_ids: Json }> }).rows
      .map((row) => ({ name: row.name, ofport: Number(setMembers(row.ofport)[0] ?? -1), externalIds: fromOvsMap(row.external_ids) }))
      .filter((row) => row.externalIds['merak-vhost'] === this.vhost && row.externalIds['vm-id'] !== undefined);
  }

  async find(vmId: string): Promise<VmInterfaceRow | undefined> {
    const [r] = await this.client.transact([
      { op: 'select', table: 'Interface', where: [['external_ids', 'includes', ovsMap({ 'vm-id': vmId, 'merak-vhost': this.vhost })]], columns: ['name', 'ofport', 'external_ids'] },
    ]);
    const row = (r as { rows: Array<{ name: string; ofport: Json; external_ids: Json }> }).rows[0];
    return row && { name: row.name, ofport: Number(setMembers(row.ofport)[0] ?? -1), externalIds: fromOvsMap(row.external_ids) };
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
