// What the kernel executor's parts (stages, recovery, the executor) share: its dependencies, the
// state of one VM's create, and the helpers each of them needs.
import { type KernelLane, NETNS_RUN_DIR } from '@merak/native';
import { MerakError, errorMessage } from '@merak/common';
import type { NetnsHandle } from '../netns/index.js';
import type { AlcorCtx } from './alcor-stages.js';
import type { OvnCtx, OvnDeps } from './ovn-stages.js';
import type { PortCommitter } from './port-committer.js';
import type { PortProgramming } from './port-programming.js';
import type { VmSpec } from './spec.js';
import type { VmInterfaceStore } from './vm-record.js';

export interface KernelExecutorDeps {
  readonly vhost: string;
  /** A handle on the vhost's own namespace (where br-int and the outer veth ends live). */
  readonly host: NetnsHandle;
  readonly ports: PortCommitter;
  readonly interfaces: VmInterfaceStore;
  /** Where the VMs' kernel work runs in order, off the JS thread (the host handle should use it too). */
  readonly lane?: KernelLane;
  /** Alcor mode with --goalstate: a VM is ready once its port's GoalState is applied here. */
  readonly goalState?: PortProgramming;
  /** OVN mode: the agent's OVN monitor and a committer for ports on OVN's bridge. */
  readonly ovn?: OvnDeps;
}

export interface CreateCtx extends AlcorCtx, OvnCtx {
  /** With Alcor, the addresses are filled in once the port is allocated. */
  spec: VmSpec;
  /** The VM's namespace: netlink, an ioctl socket and an fd on the namespace, all opened at creation. */
  vm?: NetnsHandle;
  /** The OVS port's add, from attach on: its ofport once vswitchd applied it. */
  attached?: Promise<number>;
  ofport: number;
  /** eth0's index inside the VM: fixed for veths, looked up after an internal port moved in. */
  eth0Index: number;
}

export function nsPath(name: string): string {
  return `${NETNS_RUN_DIR}/${name}`;
}

/** Wraps a lower-layer error with the code of the layer it came from. */
export function tagged(code: 'NETLINK' | 'NETNS' | 'OVSDB', what: string, e: unknown): MerakError {
  if (e instanceof MerakError) return e;
  return new MerakError(code, `${what}: ${errorMessage(e)}`, { cause: e });
}

export function ovnDepsOf(deps: KernelExecutorDeps): OvnDeps {
  if (!deps.ovn) throw new MerakError('FAILED_PRECONDITION', 'this agent was started without OVN support');
  return deps.ovn;
}

/** Ports on OVN's bridge are committed outside the overlay (they have no VNI). */
export function committerFor(deps: KernelExecutorDeps, bridge: string | undefined): PortCommitter {
  return bridge === undefined ? deps.ports : ovnDepsOf(deps).ports;
}
