// The VM side as ovn-fake-multinode does it for ovn-heater: one process per step, each run in the
// vhost's (the fake chassis') network namespace or the VM's. The same kernel work as the agent's
// veth VM: namespace, veth with eth0 inside, MAC and MTU, address, lo and eth0 up, default route,
// tx checksum offload off, the outer end up, then the port on OVN's bridge with its iface-id.
import { netnsDelete } from '@merak/native';
import type { EmulatedVhost } from '@merak/lab';
import { errorMessage } from '@merak/common';
import type { BenchPort, RunPlan } from './ports.js';
import { run } from './stop.js';

/** The VM's MTU under Geneve over a 1500-byte underlay (docs/ovn.md, Quirks). */
export const VM_MTU = 1442;

/** The steps of one VM, each a process. */
export async function makeShellVm(vh: EmulatedVhost, bridge: string, plan: RunPlan, p: BenchPort): Promise<void> {
  const inVhost = (...args: string[]): Promise<string> => run('ip', ['netns', 'exec', vh.name, ...args]);
  const inVm = (...args: string[]): Promise<string> => run('ip', ['netns', 'exec', p.vm, ...args]);
  await run('ip', ['netns', 'add', p.vm]);
  await inVhost('ip', 'link', 'add', p.port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', p.vm);
  await inVm('ip', 'link', 'set', 'eth0', 'address', p.mac, 'mtu', String(VM_MTU));
  await inVm('ip', 'addr', 'add', `${p.ip}/${plan.prefixLength}`, 'dev', 'eth0');
  await inVm('ip', 'link', 'set', 'lo', 'up');
  await inVm('ip', 'link', 'set', 'eth0', 'up');
  await inVm('ip', 'route', 'add', 'default', 'via', plan.gateway);
  await inVm('ethtool', '-K', 'eth0', 'tx', 'off');
  await inVhost('ip', 'link', 'set', p.port, 'up');
  await inVhost('ovs-vsctl', `--db=unix:${vh.dbSocket}`, 'add-port', bridge, p.port, '--', 'set', 'Interface', p.port, `external_ids:iface-id=${p.lsp}`);
}

/** Removes shell-made VMs (not timed): their ports off OVS, a vhost's in few ovs-vsctl calls, then their namespaces (the veths go with them). */
export async function removeShellVms(vhosts: readonly EmulatedVhost[], bridge: string, ports: readonly BenchPort[]): Promise<string[]> {
  const problems: string[] = [];
  await Promise.all(vhosts.map(async (vh) => {
    const mine = ports.filter((p) => p.vhost === vh.index);
    for (let i = 0; i < mine.length; i += 200) {
      const args = mine.slice(i, i + 200).flatMap((p) => ['--', '--if-exists', 'del-port', bridge, p.port]);
      await run('ovs-vsctl', [`--db=unix:${vh.dbSocket}`, ...args.slice(1)]).catch((e: unknown) => problems.push(`ovs-vsctl del-port on ${vh.name}: ${errorMessage(e)}`));
    }
  }));
  const errors = await netnsDelete(ports.map((p) => p.vm));
  errors.forEach((err, i) => {
    if (err !== null && err !== 'ENOENT') problems.push(`ip netns delete ${ports[i]!.vm}: ${err}`);
  });
  return problems;
}
