// The real executor: a VM is a named network namespace with eth0 (a veth peer created inside it,
// or an OVS internal port moved into it), addressed and routed over netlink, attached to br-int
// through one group-committed OVSDB transaction. It runs the stages of the VM's kind
// (kernel-stages.ts), recovers a half-made VM first (recovery.ts), and deletes and lists from what
// the kernel and OVSDB hold (ownership in external_ids and the veth's ifalias: ownership.ts).
import { existsSync, readdirSync } from 'node:fs';
import { NETNS_RUN_DIR } from '@merak/native';
import { errorMessage } from '@merak/common';
import { deleteNamespaces } from '../netns/index.js';
import { releasePort } from './alcor-stages.js';
import type { CreateOptions, CreateOutcome, DeleteOutcome, VmExecutor, VmState } from './executor.js';
import { type CreateCtx, type KernelExecutorDeps, committerFor, nsPath } from './kernel-context.js';
import { ETH0_INDEX, type VmKind, kernelStageTable, vmKindOf } from './kernel-stages.js';
import { EXT, parseVethAlias } from './ownership.js';
import { existingVm, settleVeths } from './recovery.js';
import type { VmRef, VmSpec } from './spec.js';
import { type Stage, StepTimer, VmFailure, runStages } from './stages.js';
import { specOf } from './vm-record.js';

export class KernelExecutor implements VmExecutor {
  private readonly stages: Readonly<Record<VmKind, readonly Stage<CreateCtx>[]>>;

  constructor(private readonly deps: KernelExecutorDeps) {
    this.stages = kernelStageTable(deps);
  }

  async create(spec: VmSpec, timer: StepTimer, opts: CreateOptions = { maybeExists: false }): Promise<CreateOutcome> {
    let maybeExists = opts.maybeExists;
    if (existsSync(nsPath(spec.name))) {
      const existing = await existingVm(this.deps, spec, timer);
      if (existing) return existing;
      // An unfinished earlier attempt was cleared: what it made elsewhere (an Alcor port) may exist.
      maybeExists = true;
    }
    const ctx: CreateCtx = { spec, timer, maybeExists, ofport: -1, eth0Index: ETH0_INDEX, ...(this.deps.goalState ? { goalState: this.deps.goalState } : {}) };
    try {
      await runStages(this.stages[vmKindOf(spec)], ctx, timer);
    } finally {
      ctx.vm?.close();
    }
    return { ofport: ctx.ofport, alreadyPresent: false, ip: ctx.spec.ip, mac: ctx.spec.mac };
  }

  async delete(ref: VmRef, timer: StepTimer): Promise<DeleteOutcome> {
    const row = await timer.time('lookup', () => this.deps.interfaces.find(ref.id)).catch((e: unknown) => {
      throw new VmFailure('OVSDB', 'lookup', `looking up VM ${ref.id}: ${errorMessage(e)}`, { cause: e });
    });
    const name = row?.externalIds[EXT.vmName] ?? ref.name;
    const hasNamespace = existsSync(nsPath(name));
    if (!row && !hasNamespace) return { status: 'absent', portName: '' };
    // Alcor's port goes first, so Alcor stops programming it before the host drops it.
    const recorded = row ? specOf(row) : undefined;
    if (recorded?.alcor) {
      await releasePort(recorded, timer).catch((e: unknown) => {
        throw new VmFailure('ALCOR', 'release', errorMessage(e), { cause: e });
      });
    }
    if (row) {
      const bridge = row.externalIds[EXT.ovnBridge];
      await timer.time('detach', () => committerFor(this.deps, bridge).remove(row.name, bridge)).catch((e: unknown) => {
        throw new VmFailure('OVSDB', 'detach', `remove port ${row.name}: ${errorMessage(e)}`, { cause: e });
      });
    }
    if (hasNamespace) {
      const [err] = await timer.time('namespace', () => deleteNamespaces([name]));
      if (err && err !== 'ENOENT') throw new VmFailure('NETNS', 'namespace', `delete namespace ${name}: ${err}`);
    }
    return { status: 'deleted', portName: row?.name ?? '' };
  }

  /** Deleting a namespace destroys its veth pair asynchronously; wait until the outer ends are gone. */
  settle(deletedPortNames: readonly string[], timeoutMs = 10_000): Promise<void> {
    return settleVeths(this.deps.host, deletedPortNames, timeoutMs);
  }

  async list(): Promise<VmState[]> {
    const [rows, links] = await Promise.all([this.deps.interfaces.list(), this.deps.host.linkList()]);
    const namespaces = new Set(existsSync(NETNS_RUN_DIR) ? readdirSync(NETNS_RUN_DIR) : []);
    const linkNames = new Set(links.map((l) => l.name));
    const states = new Map<string, VmState>();
    for (const row of rows) {
      const s = specOf(row);
      const namespacePresent = namespaces.has(s.name);
      const portPresent = s.portKind === 'veth' ? linkNames.has(row.name) : row.ofport > 0;
      states.set(s.id, {
        id: s.id, name: s.name, ip: s.ip, prefixLength: s.prefixLength, gateway: s.gateway ?? '', mac: s.mac,
        portName: row.name, portKind: s.portKind, ofport: row.ofport, namespacePresent, portPresent,
        complete: namespacePresent && portPresent && row.ofport > 0, ifaceId: s.ifaceId ?? '', vni: s.vni,
      });
    }
    // A veth we marked but whose OVS row never came (a crash mid-create): listed as incomplete.
    for (const link of links) {
      const owner = parseVethAlias(link.alias, this.deps.vhost);
      if (!owner || states.has(owner.id)) continue;
      states.set(owner.id, {
        id: owner.id, name: owner.name, ip: '', prefixLength: 0, gateway: '', mac: '', portName: link.name, portKind: 'veth',
        ofport: -1, namespacePresent: namespaces.has(owner.name), portPresent: true, complete: false, ifaceId: '', vni: 0,
      });
    }
    return [...states.values()];
  }
}
