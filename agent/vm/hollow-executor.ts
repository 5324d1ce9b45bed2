// Hollow mode: the agent's whole API and bookkeeping with the kernel work replaced by nothing, for
// control-plane tests beyond what one machine's kernel can hold. VMs exist only in memory. With
// Alcor as the control plane the Alcor calls are real (allocate, bind, release): that is the load
// such a test puts on Alcor.
import { errorMessage } from '@merak/common';
import { allocateStage, bindStage, releasePort, type AlcorCtx } from './alcor-stages.js';
import type { CreateOptions, CreateOutcome, DeleteOutcome, VmExecutor, VmState } from './executor.js';
import type { StepTimer } from './stages.js';
import type { PortProgramming } from './port-programming.js';
import { type VmRef, type VmSpec, sameSpec } from './spec.js';
import { VmFailure, runStages } from './stages.js';

export class HollowExecutor implements VmExecutor {
  /** `goalState`: Alcor mode with --goalstate, a VM is ready once its port's GoalState is applied here. */
  constructor(readonly opts: { goalState?: PortProgramming } = {}) {}

  private readonly vms = new Map<string, VmSpec>();
  private nextOfport = 1;
  private readonly ofports = new Map<string, number>();

  async create(spec: VmSpec, timer: StepTimer, opts: CreateOptions = { maybeExists: false }): Promise<CreateOutcome> {
    const existing = this.vms.get(spec.id);
    if (existing) {
      if (sameSpec(existing, spec)) return { ofport: this.ofports.get(spec.id) ?? 0, alreadyPresent: true, ip: existing.ip, mac: existing.mac };
      throw new VmFailure('CONFLICT', 'admit', `VM ${spec.id} exists with a different spec`);
    }
    let made = spec;
    if (spec.alcor) {
      const ctx: AlcorCtx = { spec, timer, maybeExists: opts.maybeExists, ...(this.opts.goalState ? { goalState: this.opts.goalState } : {}) };
      await runStages([allocateStage, bindStage], ctx, timer);
      made = { ...spec, ip: ctx.port!.ip, mac: ctx.port!.mac };
    }
    await timer.time('hollow', async () => {
      this.vms.set(spec.id, made);
      this.ofports.set(spec.id, this.nextOfport++);
    });
    return { ofport: this.ofports.get(spec.id)!, alreadyPresent: false, ip: made.ip, mac: made.mac };
  }

  async delete(ref: VmRef, timer: StepTimer): Promise<DeleteOutcome> {
    const spec = this.vms.get(ref.id);
    if (!spec) return { status: 'absent', portName: '' };
    if (spec.alcor) {
      await releasePort(spec, timer).catch((e: unknown) => {
        throw new VmFailure('ALCOR', 'release', errorMessage(e), { cause: e });
      });
    }
    await timer.time('hollow', async () => {
      this.vms.delete(ref.id);
      this.ofports.delete(ref.id);
    });
    return { status: 'deleted', portName: spec.portName };
  }

  async settle(): Promise<void> {}

  async list(): Promise<VmState[]> {
    return [...this.vms.values()].map((s) => ({
      id: s.id, name: s.name, ip: s.ip, prefixLength: s.prefixLength, gateway: s.gateway ?? '', mac: s.mac,
      portName: s.portName, portKind: s.portKind, ofport: this.ofports.get(s.id) ?? 0,
      namespacePresent: true, portPresent: true, complete: true, ifaceId: s.ifaceId ?? '', vni: s.vni,
    }));
  }
}
