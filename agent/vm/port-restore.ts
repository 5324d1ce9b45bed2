// After ovs-vswitchd restarts: VMs on OVS internal ports get their eth0 back. On the userspace
// datapath an internal port is a tap device vswitchd holds open. When vswitchd exits, the tap that
// was moved into the VM as eth0 stays there without carrier (nothing holds it any more; were it
// gone, the same applies), and the new vswitchd makes a fresh tap by the port's name (OVSDB kept
// the port) in the vhost's namespace. Each such VM's dead eth0 is replaced by the fresh tap, given
// its MAC, MTU, address and routes again from what OVSDB records of the VM. Veth ports need
// nothing: the kernel keeps them, and vswitchd reattaches them by name.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { errorMessage } from '@merak/common';
import { IFF } from '../netlink/index.js';
import { NetnsHandle } from '../netns/index.js';
import { configureEth0 } from './eth0.js';
import { nsPath } from './kernel-context.js';
import type { VmSpec } from './spec.js';
import { type VmInterfaceStore, specOf } from './vm-record.js';

/** Runs `fn` while no create or delete of VM `vmId` runs (the runner's per-VM lock). */
export type Exclusive = (vmId: string, fn: () => Promise<void>) => Promise<void>;

export interface PortRestoreDeps {
  /** The vhost's namespace, where vswitchd makes its ports. */
  readonly host: NetnsHandle;
  readonly interfaces: VmInterfaceStore;
  readonly logger: Logger;
  /** How long a port may take to reappear after vswitchd started. */
  readonly waitMs?: number;
}

export interface RestoreOutcome {
  readonly restored: readonly string[];
  readonly failed: readonly string[];
}

export async function restoreInternalPorts(deps: PortRestoreDeps, exclusive: Exclusive): Promise<RestoreOutcome> {
  const restored: string[] = [];
  const failed: string[] = [];
  const specs = (await deps.interfaces.list()).map(specOf).filter((s) => s.portKind === 'internal');
  for (const spec of specs) {
    await exclusive(spec.id, async () => {
      try {
        if (await restoreOne(deps, spec)) restored.push(spec.name);
      } catch (e) {
        failed.push(`${spec.name}: ${errorMessage(e)}`);
      }
    });
  }
  if (restored.length > 0 || failed.length > 0) deps.logger.warn({ restored: restored.length, failed }, 'internal ports restored after an ovs-vswitchd restart');
  return { restored, failed };
}

/** true when the VM's eth0 had to be brought back. */
async function restoreOne(deps: PortRestoreDeps, spec: VmSpec): Promise<boolean> {
  if (!existsSync(nsPath(spec.name))) return false;
  const vm = await NetnsHandle.open(nsPath(spec.name), { devices: true });
  try {
    // vswitchd kept the old tap, now without carrier (nothing holds it open), and made a new one
    // by the port's name in the vhost's namespace: eth0 is replaced by that one.
    const old = await vm.linkGet('eth0');
    if (old && (old.flags & IFF.LOWER_UP) !== 0) return false;
    const deadline = Date.now() + (deps.waitMs ?? 10_000);
    while (!(await deps.host.linkGet(spec.portName))) {
      if (Date.now() > deadline) throw new Error(`ovs-vswitchd did not make ${spec.portName} again within ${deps.waitMs ?? 10_000} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
    if (old) await vm.linkDelete('eth0');
    await deps.host.linkSet(spec.portName, { netnsFd: vm.fd!, newName: 'eth0', mac: spec.mac, mtu: spec.mtu });
    const eth0 = await vm.linkGet('eth0');
    if (!eth0) throw new Error(`eth0 did not appear in ${spec.name}`);
    await configureEth0(vm, eth0.index, spec);
    return true;
  } finally {
    vm.close();
  }
}

/** Calls `onRestart` whenever ovs-vswitchd's pid file names another process than before (checked every `everyMs`). */
export function watchVswitchd(rundir: string, onRestart: () => Promise<unknown>, logger: Logger, everyMs = 1000): { close(): void } {
  const pidFile = join(rundir, 'ovs-vswitchd.pid');
  const read = (): number => {
    try {
      return existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) || 0 : 0;
    } catch {
      return 0;
    }
  };
  let last = read();
  let running = false;
  const timer = setInterval(() => {
    const pid = read();
    if (pid === 0 || pid === last || running) return;
    logger.warn({ was: last, now: pid }, 'ovs-vswitchd restarted');
    last = pid;
    running = true;
    onRestart().catch((e: unknown) => logger.error({ err: errorMessage(e) }, 'restoring after an ovs-vswitchd restart failed')).finally(() => { running = false; });
  }, everyMs);
  timer.unref();
  return { close: () => clearInterval(timer) };
}
