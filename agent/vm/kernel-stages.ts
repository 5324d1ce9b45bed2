// The kernel executor's stages, and which of them build a VM of each kind: one table, one row per
// kind (control plane and port kind), the stages in the order they run.
import { MerakError, errorMessage, networkOf, parseIpv4, parseMac } from '@merak/common';
import { NetnsHandle, deleteNamespaces, isNotFound } from '../netns/index.js';
import { allocateStage, bindStage } from './alcor-stages.js';
import { type CreateCtx, type KernelExecutorDeps, committerFor, ovnDepsOf, tagged } from './kernel-context.js';
import { installedStage, markCommitted, prepareOvnPort } from './ovn-stages.js';
import { VswitchdNotAppliedError } from '../vswitch/vswitch.js';
import { configureEth0 } from './eth0.js';
import { vethAlias } from './ownership.js';
import type { VmSpec } from './spec.js';
import { type Stage, VmFailure, codeOf } from './stages.js';
import { externalIdsOf } from './vm-record.js';

/** The kinds of VM, each built by its own row of stages. */
export type VmKind = 'veth' | 'internal' | 'alcor' | 'ovn-veth' | 'ovn-internal';

export function vmKindOf(spec: VmSpec): VmKind {
  if (spec.alcor) return 'alcor';
  if (spec.ovn) return spec.portKind === 'veth' ? 'ovn-veth' : 'ovn-internal';
  return spec.portKind;
}

// Inside each VM: MTU probing as Merak did. Every sysctl write looks its path up in /proc/sys,
// whose entries all namespaces share: the lookup compares against every namespace's own entry, so
// its cost grows with the VMs already there (docs/performance.md). Only this one is written.
const VM_SYSCTLS: Array<[string, string]> = [['net.ipv4.tcp_mtu_probing', '2']];
/** A fresh namespace numbers its first device after lo as 2, so eth0 needs no lookup. */
export const ETH0_INDEX = 2;

/** Alcor's answer fits the VM: an address on the gateway's subnet (the agent routes by it). */
function checkAllocated(spec: VmSpec): void {
  const ip = parseIpv4(spec.ip);
  const gw = spec.gateway === undefined ? undefined : parseIpv4(spec.gateway);
  if (ip === undefined || parseMac(spec.mac) === undefined) throw new MerakError('ALCOR', `Alcor gave ${spec.name} the address '${spec.ip}' and MAC '${spec.mac}': not an IPv4 address and a MAC`);
  if (gw !== undefined && networkOf(gw, spec.prefixLength) !== networkOf(ip, spec.prefixLength)) {
    throw new MerakError('ALCOR', `Alcor gave ${spec.name} ${spec.ip}, outside the gateway ${spec.gateway}'s /${spec.prefixLength}`);
  }
}

/** The stages of every kind of VM, bound to the executor's dependencies. */
export function kernelStageTable(deps: KernelExecutorDeps): Readonly<Record<VmKind, readonly Stage<CreateCtx>[]>> {
  const namespaceStage: Stage<CreateCtx> = {
    name: 'namespace',
    run: async (ctx) => {
      try {
        ctx.vm = await NetnsHandle.create(ctx.spec.name, { sysctls: VM_SYSCTLS, devices: true, lane: deps.lane });
      } catch (e) {
        throw tagged('NETNS', `create namespace ${ctx.spec.name}`, e);
      }
    },
    undo: async (ctx) => {
      ctx.vm?.close();
      ctx.vm = undefined;
      const [err] = await deleteNamespaces([ctx.spec.name]);
      if (err && err !== 'ENOENT') throw new MerakError('NETNS', `delete namespace ${ctx.spec.name}: ${err}`);
    },
  };

  /** eth0 inside the VM: lo and eth0 up, address, default route; all pipelined on one socket. */
  const configureStage: Stage<CreateCtx> = {
    name: 'configure',
    run: async (ctx) => {
      const { spec } = ctx;
      const vm = ctx.vm!;
      try {
        await configureEth0(vm, ctx.eth0Index, spec);
      } catch (e) {
        throw tagged('NETLINK', `configure eth0 in ${spec.name}`, e);
      }
      // `ethtool -K eth0 tx off`: the userspace datapath drops TCP with offloaded checksums.
      if (spec.portKind === 'veth') {
        try {
          await vm.txChecksum('eth0', false);
        } catch (e) {
          throw tagged('NETLINK', `switch off tx checksum offload on eth0 in ${spec.name}`, e);
        }
      }
    },
  };

  /** The outer veth end in the vhost's namespace, eth0 its peer inside the VM. */
  const vethStage: Stage<CreateCtx> = {
    name: 'port',
    run: async (ctx) => {
      const { spec } = ctx;
      try {
        await deps.host.linkAddVeth({ name: spec.portName, peerName: 'eth0', peerNetnsFd: ctx.vm!.fd!, mtu: spec.mtu, peerMac: spec.mac });
        // The outer end: up, no IPv6 on it (it lives in the vhost's namespace), and the ownership
        // mark (the kernel ignores an alias given at creation).
        await deps.host.linkSet(spec.portName, { up: true, addrGenModeNone: true, alias: vethAlias(deps.vhost, spec) });
      } catch (e) {
        throw tagged('NETLINK', `create veth ${spec.portName}`, e);
      }
    },
    undo: async (ctx) => {
      await deps.host.linkDelete(ctx.spec.portName).catch((e: unknown) => {
        if (!isNotFound(e)) throw e;
      });
    },
  };

  /** Queues the VM's OVS port (group-committed); resolves to its ofport once vswitchd applied it. */
  const addPort = (ctx: CreateCtx, type: '' | 'internal'): Promise<number> => {
    const bridge = ctx.ovnBridge;
    const added = committerFor(deps, bridge).add(ctx.spec.portName, type, externalIdsOf(deps.vhost, ctx.spec, bridge), ctx.spec.vni, bridge).catch((e: unknown) => {
      throw tagged('OVSDB', `add port ${ctx.spec.portName} to ${bridge ?? 'the bridge'}`, e);
    });
    return bridge === undefined ? added : added.then((ofport) => (markCommitted(ctx), ofport));
  };

  /**
   * Removes the port this VM added; one whose transaction failed is not ours to remove (its name
   * may be taken), one that committed but vswitchd did not apply in time is.
   */
  const detach = async (ctx: CreateCtx): Promise<void> => {
    ctx.wait?.cancel();
    // An add still in flight settles first, so the removal cannot overtake it.
    const added = await ctx.attached?.then(() => true, (e: unknown) => e instanceof VswitchdNotAppliedError);
    if (added) await committerFor(deps, ctx.ovnBridge).remove(ctx.spec.portName, ctx.ovnBridge);
  };

  /** OVN mode: the bridge and the wait for ovn-installed come before the port is added. */
  const ovnAttach = (stage: Stage<CreateCtx>): Stage<CreateCtx> => ({
    ...stage,
    run: async (ctx) => {
      await prepareOvnPort(ovnDepsOf(deps), ctx);
      try {
        await stage.run(ctx);
      } catch (e) {
        ctx.wait?.cancel();
        throw e;
      }
    },
  });

  /** Attach and wait: an internal port exists only once vswitchd made it, and it is moved next. */
  const attachStage: Stage<CreateCtx> = {
    name: 'attach',
    run: async (ctx) => {
      ctx.attached = addPort(ctx, 'internal');
      ctx.ofport = await ctx.attached;
    },
    undo: detach,
  };

  /**
   * A veth's port is only queued here: the VM is configured while vswitchd applies it, and `ready`
   * waits for it (in a burst, vswitchd's reconfiguration otherwise runs after the lane went idle).
   */
  const queueAttachStage: Stage<CreateCtx> = {
    name: 'attach',
    run: async (ctx) => {
      ctx.attached = addPort(ctx, '');
      // Awaited by ready, or by the undo when a later stage fails.
      ctx.attached.catch(() => undefined);
    },
    undo: detach,
  };

  /** Readiness as ovs-vsctl defines it: vswitchd applied the port, which has an ofport and no error. */
  const readyStage: Stage<CreateCtx> = {
    name: 'ready',
    run: async (ctx) => {
      try {
        ctx.ofport = await ctx.attached!;
      } catch (e) {
        // The port was refused (no VLAN left, vswitchd could not add it): attach failed, not readiness.
        throw new VmFailure(codeOf(e), 'attach', errorMessage(e), { cause: e });
      }
    },
  };

  /** The internal port moved into the VM as eth0, with the VM's MAC. */
  const moveStage: Stage<CreateCtx> = {
    name: 'move',
    run: async (ctx) => {
      const { spec } = ctx;
      try {
        await deps.host.linkSet(spec.portName, { netnsFd: ctx.vm!.fd!, newName: 'eth0', mac: spec.mac, mtu: spec.mtu });
        const eth0 = await ctx.vm!.linkGet('eth0');
        if (!eth0) throw new MerakError('NETLINK', `eth0 did not appear in ${spec.name}`);
        ctx.eth0Index = eth0.index;
      } catch (e) {
        throw tagged('NETLINK', `move port ${spec.portName} into ${spec.name}`, e);
      }
    },
  };

  /** Alcor allocates the port; its addresses become the VM's. */
  const alcorAllocateStage: Stage<CreateCtx> = {
    ...allocateStage,
    run: async (ctx) => {
      await allocateStage.run(ctx);
      const port = ctx.port!;
      ctx.spec = { ...ctx.spec, ip: port.ip, mac: port.mac };
      checkAllocated(ctx.spec);
    },
  };

  return {
    veth: [namespaceStage, vethStage, queueAttachStage, configureStage, readyStage],
    internal: [namespaceStage, attachStage, moveStage, configureStage],
    // Alcor mode, in Merak's order: Alcor allocates the port, the internal port tap<id11> goes on
    // br-int, then the namespace, the binding to this host, the move into the VM with Alcor's MAC,
    // and the address.
    alcor: [alcorAllocateStage, attachStage, namespaceStage, bindStage, moveStage, configureStage],
    // OVN mode: the same steps with the port on OVN's bridge, then `installed` (ovn-stages.ts).
    'ovn-veth': [namespaceStage, vethStage, ovnAttach(queueAttachStage), configureStage, readyStage, installedStage],
    'ovn-internal': [namespaceStage, ovnAttach(attachStage), moveStage, configureStage, installedStage],
  };
}
