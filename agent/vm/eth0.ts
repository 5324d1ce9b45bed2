// The VM's side of its network: lo and eth0 up with the VM's address and routes. One place, for the
// VM as it is built and for an internal-port VM whose eth0 is replaced after vswitchd restarts.
import type { NetnsHandle } from '../netns/index.js';
import type { VmSpec } from './spec.js';

/**
 * Configures eth0 (by index) inside the VM: every request pipelined on the VM's one socket, in
 * order. eth0 is told to make no IPv6 address while it is still down (the kernel makes the
 * link-local address as the link comes up), so it never sends DAD, RS or MLD to flood the bridge;
 * a link message, where disable_ipv6 would be a sysctl, whose /proc/sys lookup costs more with
 * every namespace on the machine (docs/performance.md).
 */
export async function configureEth0(vm: NetnsHandle, eth0Index: number, spec: Pick<VmSpec, 'ip' | 'prefixLength' | 'gateway' | 'routes'>): Promise<void> {
  const requests: Promise<unknown>[] = [
    vm.linkSet('lo', { up: true }),
    vm.linkSet(eth0Index, { addrGenModeNone: true }),
    vm.addrAdd(eth0Index, spec.ip, spec.prefixLength),
    vm.linkSet(eth0Index, { up: true }),
  ];
  if (spec.gateway) requests.push(vm.routeAddDefault(spec.gateway, eth0Index));
  for (const r of spec.routes) requests.push(vm.routeAdd({ dst: r.destination, prefixLength: r.prefixLength, ifindex: eth0Index, ...(r.via ? { gateway: r.via } : {}) }));
  await Promise.all(requests);
}
