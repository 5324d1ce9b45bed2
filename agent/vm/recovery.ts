// A create that finds the VM's namespace already there. The same VM, complete, is answered as it
// is; one this vhost started but did not finish (the agent was killed half-way: the namespace,
// maybe its port, no attached OVS row) is cleared away so the create can start over; anything
// else is a conflict. Ownership is read from OVSDB and the veth's mark (ownership.ts), never memory.
import { MerakError, errorMessage } from '@merak/common';
import { NetnsHandle, deleteNamespaces } from '../netns/index.js';
import type { CreateOutcome } from './executor.js';
import { type KernelExecutorDeps, committerFor, nsPath, ovnDepsOf } from './kernel-context.js';
import { awaitInstalledInPlace } from './ovn-stages.js';
import { EXT, parseVethAlias } from './ownership.js';
import { type VmSpec, sameSpec } from './spec.js';
import { type StepTimer, VmFailure } from './stages.js';
import { specOf } from './vm-record.js';

/** The VM as it is (complete, same spec), or undefined once an unfinished one was cleared. */
export async function existingVm(deps: KernelExecutorDeps, spec: VmSpec, timer: StepTimer): Promise<CreateOutcome | undefined> {
  const row = await deps.interfaces.find(spec.id).catch((e: unknown) => {
    throw new VmFailure('OVSDB', 'admit', `looking up VM ${spec.id}: ${errorMessage(e)}`, { cause: e });
  });
  if (row) {
    const recorded = specOf(row);
    if (!sameSpec(recorded, { ...spec, externalIds: spec.externalIds })) {
      throw new VmFailure('CONFLICT', 'admit', `namespace ${spec.name} already exists and exists with a different spec`);
    }
    if (row.ofport > 0 && (await configured(recorded))) {
      if (spec.ovn) await awaitInstalledInPlace(ovnDepsOf(deps), spec);
      return { ofport: row.ofport, alreadyPresent: true, ip: recorded.ip, mac: recorded.mac };
    }
  } else if (!(await startedHere(deps, spec))) {
    throw new VmFailure('CONFLICT', 'admit', `namespace ${spec.name} already exists and is not a VM of this vhost (no OVS port records it)`);
  }
  await timer.time('recover', () => clearUnfinished(deps, spec, row?.externalIds[EXT.ovnBridge])).catch((e: unknown) => {
    throw new VmFailure('NETNS', 'recover', `clearing the unfinished ${spec.name}: ${errorMessage(e)}`, { cause: e });
  });
  return undefined;
}

/** The VM got as far as its address: eth0 inside carries it (the last step of every kind). */
async function configured(spec: VmSpec): Promise<boolean> {
  const vm = await NetnsHandle.open(nsPath(spec.name)).catch(() => undefined);
  if (!vm) return false;
  try {
    return (await vm.addrList()).some((a) => a.family === 4 && a.ip === spec.ip);
  } finally {
    vm.close();
  }
}

/** This vhost's mark is on the VM's outer veth end, or the namespace holds nothing but lo (made, then the agent died). */
async function startedHere(deps: KernelExecutorDeps, spec: VmSpec): Promise<boolean> {
  const link = await deps.host.linkGet(spec.portName).catch(() => undefined);
  const owner = parseVethAlias(link?.alias, deps.vhost);
  if (owner) return owner.id === spec.id && owner.name === spec.name;
  // A namespace without the VM's veth: only ours if the VM's own lo carries nothing else and it is empty.
  const vm = await NetnsHandle.open(nsPath(spec.name)).catch(() => undefined);
  if (!vm) return false;
  try {
    const links = await vm.linkList();
    // Created by the namespace stage and left before the port stage: lo alone.
    return links.length === 1 && links[0]!.name === 'lo';
  } finally {
    vm.close();
  }
}

async function clearUnfinished(deps: KernelExecutorDeps, spec: VmSpec, bridge: string | undefined): Promise<void> {
  await committerFor(deps, bridge).remove(spec.portName, bridge);
  const [err] = await deleteNamespaces([spec.name]);
  if (err && err !== 'ENOENT') throw new MerakError('NETNS', `delete namespace ${spec.name}: ${err}`);
  await settleVeths(deps.host, [spec.portName]);
}

/** Deleting a namespace destroys its veth pair asynchronously; waits until the outer ends are gone. */
export async function settleVeths(host: NetnsHandle, deletedPortNames: readonly string[], timeoutMs = 10_000): Promise<void> {
  const wanted = new Set(deletedPortNames.filter((n) => n !== ''));
  const deadline = Date.now() + timeoutMs;
  while (wanted.size > 0 && Date.now() < deadline) {
    const links = await host.linkList();
    if (!links.some((l) => wanted.has(l.name))) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}
