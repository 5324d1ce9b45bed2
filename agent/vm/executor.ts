// What the runner needs from whatever does the work: the kernel executor or the hollow one.
import type { StepTimer } from './stages.js';
import type { PortKind, VmRef, VmSpec } from './spec.js';

export interface CreateOutcome {
  readonly ofport: number;
  /** The addresses the VM got when the control plane chose them (Alcor); undefined = the spec's. */
  readonly ip?: string;
  readonly mac?: string;
  /** The VM was already there with the same spec; nothing was done. */
  readonly alreadyPresent: boolean;
}

export interface DeleteOutcome {
  readonly status: 'deleted' | 'absent';
  /** The port that was removed from br-int ('' when none). */
  readonly portName: string;
}

/** A VM as found on the vhost (kernel + OVSDB truth). */
export interface VmState {
  readonly id: string;
  readonly name: string;
  readonly ip: string;
  readonly prefixLength: number;
  readonly gateway: string;
  readonly mac: string;
  readonly portName: string;
  readonly portKind: PortKind;
  readonly ofport: number;
  readonly namespacePresent: boolean;
  readonly portPresent: boolean;
  readonly complete: boolean;
  readonly ifaceId: string;
  readonly vni: number;
}

export interface CreateOptions {
  /** The create may have run before (a resend): look for what it made before making it again. */
  readonly maybeExists: boolean;
}

export interface VmExecutor {
  /** Creates one VM; on failure undoes what it made and throws a VmFailure. */
  create(spec: VmSpec, timer: StepTimer, opts?: CreateOptions): Promise<CreateOutcome>;
  /** Deletes one VM; 'absent' when there was nothing to delete. */
  delete(ref: VmRef, timer: StepTimer): Promise<DeleteOutcome>;
  /** Called once a batch is done: waits for asynchronous kernel cleanup to finish. */
  settle(deletedPortNames: readonly string[]): Promise<void>;
  list(): Promise<VmState[]>;
}
