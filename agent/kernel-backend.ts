// The kernel backend: a netlink handle on the vhost's own namespace, OVSDB for br-int, the kernel
// executor, the ICMP prober, readiness checks.
import { createKernelLane } from '@merak/native';
import type { Logger } from 'pino';
import type { Backend } from './backend.js';
import type { AgentConfig } from './config.js';
import { MerakError, errorMessage } from './errors.js';
import { NetnsHandle } from './netns/index.js';
import { pingFromNamespace } from './probe/pinger.js';
import { KernelExecutor } from './vm/kernel-executor.js';
import { PortCommitter } from './vm/port-committer.js';
import { Vswitch } from './vswitch/vswitch.js';

export async function createKernelBackend(config: AgentConfig, logger: Logger): Promise<Backend> {
  // All kernel work of VMs (namespaces, rtnetlink, ioctls) queues on one lane: see native/src/lane.cc.
  const lane = createKernelLane();
  const host = await NetnsHandle.open('/proc/self/ns/net', { lane });
  let vswitch: Vswitch | undefined;
  try {
    vswitch = await Vswitch.connect(config.ovsdbSocket, config.bridge, config.vhost, logger);
    await vswitch.ensureBridge(config.datapathType);
  } catch (e) {
    host.close();
    vswitch?.close();
    throw new MerakError('OVSDB', `OVSDB at ${config.ovsdbSocket}: ${errorMessage(e)}`, { cause: e });
  }
  const vs = vswitch;
  const executor = new KernelExecutor({ vhost: config.vhost, host, lane, ports: new PortCommitter((changes) => vs.applyPortChanges(changes)), interfaces: vs });
  logger.info({ ovsdb: config.ovsdbSocket, bridge: config.bridge, datapathType: config.datapathType }, 'bridge ready');
  return {
    executor,
    underlayIp: undefined,
    checks: [
      { name: 'ovsdb', check: () => vs.echo() },
      { name: 'netlink', check: async () => { if (!(await host.linkGet('lo'))) throw new Error('lo not found'); } },
    ],
    async hostInfo() {
      const [links, addrs, ovsVersion] = await Promise.all([host.linkList(), host.addrList(), vs.version()]);
      const byIndex = new Map(links.map((l) => [l.index, l]));
      const addresses = addrs
        .filter((a) => a.family === 4)
        .map((a) => ({ interface: byIndex.get(a.ifindex)?.name ?? String(a.ifindex), address: `${a.ip}/${a.prefixLength}`, mac: byIndex.get(a.ifindex)?.mac ?? '' }));
      return { addresses, ovsVersion, datapathType: config.datapathType, bridge: config.bridge };
    },
    ping: (vm, targets, opts) => pingFromNamespace(vm, targets, opts),
    setTunnels: async () => {
      throw new Error('unimplemented');
    },
    async close() {
      host.close();
      vs.close();
    },
  };
}
