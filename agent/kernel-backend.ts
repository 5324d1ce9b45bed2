// The kernel backend: a netlink handle on the vhost's own namespace, OVSDB for br-int, the
// underlay (br-phy) and the overlay (per-VNI VLANs, tunnels), the kernel executor, the ICMP
// prober, readiness checks.
import { createKernelLane } from '@merak/native';
import type { Logger } from 'pino';
import type { Backend } from './backend.js';
import type { AgentConfig } from './config.js';
import { MerakError, errorMessage } from '@merak/common';
import { NetnsHandle } from './netns/index.js';
import { KernelGoalStateDataPlane } from './goalstate/kernel-data-plane.js';
import { GoalStateSlot } from './goalstate/slot.js';
import { type Overlay, type OverlayStack, type Underlay, ensureUnderlay, openOverlay } from './overlay/index.js';
import { pingFromNamespace } from './probe/pinger.js';
import type { ReadinessCheck } from '@merak/common';
import { KernelExecutor } from './vm/kernel-executor.js';
import { ownerMark } from './vm/ownership.js';
import { PortCommitter } from './vm/port-committer.js';
import { restoreInternalPorts, watchVswitchd } from './vm/port-restore.js';
import { vmInterfaces } from './vm/vm-record.js';
import { OvnInstalledWatcher } from './ovn/installed-watcher.js';
import { OvsdbClient } from '@merak/common';
import { Vswitch } from './vswitch/vswitch.js';

export async function createKernelBackend(config: AgentConfig, logger: Logger): Promise<Backend> {
  // All kernel work of VMs (namespaces, rtnetlink, ioctls) queues on one lane: see native/src/lane.cc.
  const lane = createKernelLane();
  // The vhost's namespace: this process's own, or the one --netns names (several vhosts, one process).
  const vhostNetns = config.netns ?? '/proc/self/ns/net';
  const host = await NetnsHandle.open(vhostNetns, { lane });
  // The readiness probe's own socket, off the lane: it must not wait behind a burst's kernel work.
  const probe = await NetnsHandle.open(vhostNetns);
  let vswitch: Vswitch | undefined;
  try {
    vswitch = await Vswitch.connect(config.ovsdbSocket, config.bridge, ownerMark(config.vhost), logger);
    await vswitch.ensureBridge(config.datapathType);
  } catch (e) {
    host.close();
    probe.close();
    vswitch?.close();
    throw new MerakError('OVSDB', `OVSDB at ${config.ovsdbSocket}: ${errorMessage(e)}`, { cause: e });
  }
  const vs = vswitch;
  let underlay: Underlay | undefined;
  let overlay: Overlay;
  let stack: OverlayStack | undefined;
  try {
    if (config.underlayInterface !== undefined) {
      underlay = await ensureUnderlay(host, vs, { interface: config.underlayInterface, datapathType: config.datapathType, expectedIp: config.underlayIp || undefined }, logger);
    }
    const underlayIp = underlay?.ip ?? (config.underlayIp || undefined);
    // The overlay, and br-tun with its flows when there is a tunnel endpoint (docs/data-plane.md).
    stack = await openOverlay(vs, { vhost: config.vhost, logger, datapathType: config.datapathType, ovsRundir: config.ovsRundir, underlayIp, hasUnderlay: underlay !== undefined });
    overlay = stack.overlay;
  } catch (e) {
    stack?.close();
    host.close();
    probe.close();
    vs.close();
    throw e;
  }
  const goalState = new GoalStateSlot();
  // OVN VMs: one monitor for ovn-installed (opened on the first OVN VM), their ports outside the overlay.
  const ovnWatcher = new OvnInstalledWatcher(() => OvsdbClient.connect(config.ovsdbSocket), logger);
  const ovn = { watcher: ovnWatcher, ports: new PortCommitter((changes) => vs.applyPortChanges(changes)) };
  const interfaces = vmInterfaces(vs, config.vhost);
  const executor = new KernelExecutor({ vhost: config.vhost, host, lane, ports: new PortCommitter((changes) => overlay.applyPortChanges(changes)), interfaces, goalState, ovn });
  let vswitchdWatch: { close(): void } | undefined;
  logger.info({ ovsdb: config.ovsdbSocket, bridge: config.bridge, datapathType: config.datapathType, underlayIp: underlay?.ip }, 'bridge ready');
  const checks: ReadinessCheck[] = [
    { name: 'ovsdb', check: () => vs.echo() },
    { name: 'netlink', check: async () => { if (!(await probe.linkGet('lo'))) throw new Error('lo not found'); } },
  ];
  if (underlay) checks.push({ name: 'underlay', check: () => underlay.check() });
  return {
    executor,
    underlayIp: underlay?.ip,
    underlayMac: underlay?.mac,
    checks,
    async hostInfo() {
      const [links, addrs, ovsVersion] = await Promise.all([host.linkList(), host.addrList(), vs.version()]);
      const byIndex = new Map(links.map((l) => [l.index, l]));
      const addresses = addrs
        .filter((a) => a.family === 4)
        .map((a) => ({ interface: byIndex.get(a.ifindex)?.name ?? String(a.ifindex), address: `${a.ip}/${a.prefixLength}`, mac: byIndex.get(a.ifindex)?.mac ?? '' }));
      return { addresses, ovsVersion, datapathType: config.datapathType, bridge: config.bridge };
    },
    ping: (vm, targets, opts) => pingFromNamespace(vm, targets, opts),
    setTunnels: (c) => overlay.setTunnels(c),
    updateTunnels: (d) => overlay.updateTunnels(d),
    updateNeighbors: (c) => overlay.updateNeighbors(c),
    setUnderlayUp: underlay && config.underlayInterface !== undefined ? (up) => host.linkSet(config.underlayInterface!, { up }) : undefined,
    goalState,
    startPortRestorer(exclusive) {
      vswitchdWatch ??= watchVswitchd(config.ovsRundir, () => restoreInternalPorts({ host, interfaces, logger }, exclusive), logger);
    },
    goalStateDataPlane: (ownIps) => new KernelGoalStateDataPlane({ overlay, store: vs, logger, ownIps }),
    async close() {
      vswitchdWatch?.close();
      ovnWatcher.close();
      stack?.close();
      host.close();
      probe.close();
      vs.close();
    },
  };
}
