// The three ways of making a run's ports: each writes the NB (noting per port when its write was
// sent and committed, wall clock) and makes the VMs; and removes them again (not timed).
import { OvsdbClient, type OvsdbJson, errorMessage, ovsMap } from '@merak/common';
import type { LocalEmulation } from '@merak/lab';
import { agentV1 } from '@merak/proto';
import type { OvnModules } from './modules.js';
import type { Mode, Options } from './options.js';
import type { BenchPort, RunPlan } from './ports.js';
import { VM_MTU, makeShellVm, removeShellVms } from './shell-vm.js';
import { run, stopped, throwIfStopped, wallMs } from './stop.js';

export interface WayContext {
  readonly emulation: LocalEmulation;
  /** NB's unix:PATH */
  readonly nb: string;
  /** OVN's integration bridge on the vhosts */
  readonly bridge: string;
  /** Marks the bench's switches (external_ids:merak-bench), so a failed run's are found. */
  readonly benchTag: string;
  readonly o: Options;
  readonly m: OvnModules;
  readonly plan: RunPlan;
  /** per port, wall-clock ms: its NB write sent, and its commit answered */
  readonly sent: Float64Array;
  readonly committed: Float64Array;
  /** NB transactions (or ovn-nbctl processes) the run made */
  nbWrites: number;
  readonly problems: string[];
}

export interface Way {
  /** The run's logical switch (before the clock starts). */
  setUp(): Promise<void>;
  /** Every port: NB write and VM. Resolves when the last VM side is done (not when installed). */
  make(): Promise<void>;
  /** The run's VMs, then its switch with its ports. */
  remove(): Promise<void>;
}

export function wayOf(mode: Mode, ctx: WayContext): Way {
  return mode === 'ours' ? ours(ctx) : baseline(mode, ctx);
}

/** Merak: the coordinator's writer, one NB transaction per chunk of a vhost's ports, then its agent makes them. */
function ours(ctx: WayContext): Way {
  const { m, plan, o, emulation } = ctx;
  // The scenario id only scopes the rows' external_ids (so tearDown finds exactly this run's).
  const names = m.names.ovnNames(`${ctx.benchTag}-${plan.label}`);
  const topo = {
    names, switches: [{ name: plan.switchName, vpc: 'bench', subnet: undefined }], routers: [], portGroups: [], routedVpcs: new Set<string>(),
    vmPort: (): never => { throw new Error('not used'); },
  };
  const db = new m.database.OvnDatabase(ctx.nb, 'OVN_Northbound', 60_000);
  const writer = new m.writer.NbTopologyWriter(db, topo, undefined);
  const spec = (p: BenchPort): agentV1.VmSpec => ({
    id: p.vm, name: p.vm, ip: p.ip, prefixLength: plan.prefixLength, gateway: plan.gateway, mac: p.mac, mtu: VM_MTU,
    portKind: agentV1.PortKind.PORT_KIND_VETH, portName: p.port, ifaceId: p.lsp, externalIds: {}, vni: 0, routes: [], alcor: undefined,
    ovn: { timeoutMs: o.timeoutMs },
  });
  const byVhost = emulation.vhosts.map((vh) => plan.ports.filter((p) => p.vhost === vh.index));
  return {
    async setUp() {
      await writer.ensureNetwork();
    },
    async make() {
      // As the coordinator's fan-out: chunks of each vhost's ports, host by host, all in flight at once.
      const chunks = byVhost.flatMap((ports, h) => Array.from({ length: Math.ceil(ports.length / o.chunk) }, (_, k) => ({ h, ports: ports.slice(k * o.chunk, (k + 1) * o.chunk) })));
      await Promise.all(chunks.map(async ({ h, ports }) => {
        if (stopped()) return;
        const out = await writer.writePorts(ports.map((p) => ({ name: p.lsp, vm: p.vm, vmIndex: p.index, switchName: plan.switchName, mac: p.mac, ip: p.ip, host: emulation.vhosts[h]!.name, portGroups: [] })), false);
        ctx.nbWrites++;
        const sentAt = performance.timeOrigin + out.sentAt;
        const committedAt = performance.timeOrigin + out.committedAt;
        for (const p of ports) {
          ctx.sent[p.index] = sentAt;
          ctx.committed[p.index] = committedAt;
        }
        const operations = ports.map((p): agentV1.VmOperation => ({ op: { $case: 'create', value: spec(p) }, startOffsetMs: 0 }));
        await emulation.vhosts[h]!.client.apply({ operations, concurrency: o.vmConcurrency, startAtUnixMs: 0 }, (r) => {
          if (r.status !== agentV1.VmStatus.VM_STATUS_READY) ctx.problems.push(`agent of vhost ${h}: VM ${r.id} ${agentV1.vmStatusToJSON(r.status)} at ${r.error?.step ?? '?'}: ${r.error?.message ?? ''}`);
        });
      }));
    },
    async remove() {
      try {
        await Promise.all(emulation.vhosts.map(async (vh, h) => {
          const operations = byVhost[h]!.map((p): agentV1.VmOperation => ({ op: { $case: 'delete', value: { id: p.vm, name: p.vm } }, startOffsetMs: 0 }));
          if (operations.length === 0) return;
          await vh.client.apply({ operations, concurrency: o.vmConcurrency, startAtUnixMs: 0 }, (r) => {
            if (r.status !== agentV1.VmStatus.VM_STATUS_DELETED) ctx.problems.push(`removing: agent of ${vh.name}: VM ${r.id} ${agentV1.vmStatusToJSON(r.status)}: ${r.error?.message ?? ''}`);
          }).catch((e: unknown) => ctx.problems.push(`removing: agent of ${vh.name}: ${errorMessage(e)}`));
        }));
        const left = await writer.tearDown();
        for (const l of left) ctx.problems.push(`removing: NB: ${l}`);
      } finally {
        db.close();
      }
    },
  };
}

/** heater and naive: sequential per port, NB write then the VM by shell; they differ in the NB write only. */
function baseline(mode: 'heater' | 'naive', ctx: WayContext): Way {
  const { plan, emulation } = ctx;
  let nb: OvsdbClient | undefined;
  let switchUuid = '';
  const client = (): OvsdbClient => {
    if (!nb) throw new Error('not set up');
    return nb;
  };
  const transactOne = async (p: BenchPort): Promise<void> => {
    // ovsdbapp's lsp_add + lsp_set_addresses + lsp_set_port_security: one transaction.
    const addr = `${p.mac} ${p.ip}`;
    await client().transact([
      { op: 'insert', table: 'Logical_Switch_Port', 'uuid-name': 'lsp', row: { name: p.lsp, addresses: addr, port_security: addr } },
      { op: 'mutate', table: 'Logical_Switch', where: [['_uuid', '==', ['uuid', switchUuid]]], mutations: [['ports', 'insert', ['set', [['named-uuid', 'lsp']]]]] },
    ], 60_000);
  };
  const nbctlOne = async (p: BenchPort): Promise<void> => {
    const addr = `${p.mac} ${p.ip}`;
    await run('ovn-nbctl', [`--db=${ctx.nb}`, 'lsp-add', plan.switchName, p.lsp, '--', 'lsp-set-addresses', p.lsp, addr, '--', 'lsp-set-port-security', p.lsp, addr]);
  };
  const write = mode === 'heater' ? transactOne : nbctlOne;
  return {
    async setUp() {
      nb = await OvsdbClient.connect(ctx.nb, { database: 'OVN_Northbound', timeoutMs: 60_000 });
      const [res] = await nb.transact([{ op: 'insert', table: 'Logical_Switch', row: { name: plan.switchName, external_ids: ovsMap({ 'merak-bench': ctx.benchTag }) } }]);
      const u = (res as { uuid?: OvsdbJson }).uuid;
      if (!Array.isArray(u) || typeof u[1] !== 'string') throw new Error(`inserting switch ${plan.switchName}: no uuid in ${JSON.stringify(res)}`);
      switchUuid = u[1];
    },
    async make() {
      for (const p of plan.ports) {
        throwIfStopped();
        ctx.sent[p.index] = wallMs();
        await write(p);
        ctx.committed[p.index] = wallMs();
        ctx.nbWrites++;
        await makeShellVm(emulation.vhosts[p.vhost]!, ctx.bridge, plan, p);
      }
    },
    async remove() {
      try {
        ctx.problems.push(...(await removeShellVms(emulation.vhosts, ctx.bridge, plan.ports)).map((x) => `removing: ${x}`));
        // The switch's ports go with it (not root rows).
        await client().transact([{ op: 'delete', table: 'Logical_Switch', where: [['name', '==', plan.switchName]] }]).catch((e: unknown) => ctx.problems.push(`removing: NB switch ${plan.switchName}: ${errorMessage(e)}`));
      } finally {
        nb?.close();
      }
    },
  };
}
