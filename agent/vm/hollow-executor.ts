// Hollow mode: the agent's whole API and bookkeeping with the kernel work replaced by nothing, for
// control-plane tests beyond what one machine's kernel can hold. VMs exist only in memory.
import type { CreateOutcome, DeleteOutcome, VmExecutor, VmState } from './executor.js';
import type { StepTimer } from './stages.js';
import type { VmRef, VmSpec } from './spec.js';
import { VmFailure } from './stages.js';

export class HollowExecutor implements VmExecutor {
  private readonly vms = new Map<string, VmSpec>();
  private nextOfport = 1;
  private readonly ofports = new Map<string, number>();

  async create(spec: VmSpec, timer: StepTimer): Promise<CreateOutcome> {
    const existing = this.vms.get(spec.id);
    if (existing) {
      if (sameSpec(existing, spec)) return { ofport: this.ofports.get(spec.id) ?? 0, alreadyPresent: true };
      throw new VmFailure('CONFLICT', 'admit', `VM ${spec.id} exists with a different spec`);
    }
    await timer.time('hollow', async () => {
      this.vms.set(spec.id, spec);
      this.ofports.set(spec.id, this.nextOfport++);
    });
    return { ofport: this.ofports.get(spec.id)!, alreadyPresent: false };
  }

  async delete(ref: VmRef, timer: StepTimer): Promise<DeleteOutcome> {
    const spec = this.vms.get(ref.id);
    if (!spec) return { status: 'absent', portName: '' };
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

/** Two specs describe the same VM (what makes a repeated create a no-op). */
export function sameSpec(a: VmSpec, b: VmSpec): boolean {
  return (
    a.id === b.id && a.name === b.name && a.ip === b.ip && a.prefixLength === b.prefixLength &&
    (a.gateway ?? '') === (b.gateway ?? '') && a.mac === b.mac && a.mtu === b.mtu && a.portKind === b.portKind &&
    a.portName === b.portName && (a.ifaceId ?? '') === (b.ifaceId ?? '') && a.vni === b.vni && sameRoutes(a.routes, b.routes)
  );
}

function sameRoutes(a: VmSpec['routes'], b: VmSpec['routes']): boolean {
  return a.length === b.length && a.every((r, i) => r.destination === b[i]!.destination && r.prefixLength === b[i]!.prefixLength && r.via === b[i]!.via);
}
