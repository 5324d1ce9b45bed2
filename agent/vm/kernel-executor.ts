// The real executor: a VM is a named network namespace with eth0 (a veth peer created inside it,
// or an OVS internal port moved into it), addressed and routed over netlink, attached to br-int
// through one group-committed OVSDB transaction. Ownership lives in external_ids and the veth's
// ifalias, so list and delete read the kernel and OVSDB, never memory.
import { existsSync, readdirSync } from 'node:fs';
import { type KernelLane, NETNS_RUN_DIR } from '@merak/native';
import { MerakError, errorMessage } from '@merak/common';
import { NetnsHandle, deleteNamespaces, isNotFound } from '../netns/index.js';
import type { PortProgramming } from '../goalstate/contracts.js';
import { type AlcorCtx, allocateStage, bindStage, releasePort } from './alcor-stages.js';
import type { CreateOptions, CreateOutcome, DeleteOutcome, VmExecutor, VmState } from './executor.js';
import { sameSpec } from './hollow-executor.js';
import type { PortCommitter } from './port-committer.js';
import type { VmRef, VmSpec } from './spec.js';
import { type Stage, StepTimer, VmFailure, codeOf, runStages } from './stages.js';
import { networkOf, parseIpv4, parseMac } from '@merak/common';
import { type OvnCtx, type OvnDeps, awaitInstalledInPlace, installedStage, markCommitted, prepareOvnPort } from './ovn-stages.js';
import { EXT, type VmInterfaceStore, externalIdsOf, specOf } from './vm-record.js';

export { EXT, type VmInterfaceRow, type VmInterfaceStore } from './vm-record.js';

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

// Inside each VM: no IPv6 (its RS/DAD/MLD floods the bridge), and MTU probing as Merak did.
// Writing all.disable_ipv6 also sets default.disable_ipv6 (the kernel's addrconf_disable_ipv6),
// so both read 1 without a third write; the namespace has only lo when they are written.
const VM_SYSCTLS: Array<[string, string]> = [
  ['net.ipv6.conf.all.disable_ipv6', '1'],
  ['net.ipv4.tcp_mtu_probing', '2'],
];
/** A fresh namespace numbers its first device after lo as 2, so eth0 needs no lookup. */
const ETH0_INDEX = 2;
const ALIAS_PREFIX = 'merak';

function alias(vhost: string, spec: { id: string; name: string }): string {
  return `${ALIAS_PREFIX} vhost=${vhost} vm=${spec.id} ns=${spec.name}`;
}

function parseAlias(text: string | undefined, vhost: string): { id: string; name: string } | undefined {
  const m = /^merak vhost=(\S+) vm=(\S+) ns=(\S+)$/.exec(text ?? '');
  return m && m[1] === vhost ? { id: m[2]!, name: m[3]! } : undefined;
}

function nsPath(name: string): string {
  return `${NETNS_RUN_DIR}/${name}`;
}

interface CreateCtx extends AlcorCtx, OvnCtx {
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

/** Alcor's answer fits the VM: an address on the gateway's subnet (the agent routes by it). */
function checkAllocated(spec: VmSpec): void {
  const ip = parseIpv4(spec.ip);
  const gw = spec.gateway === undefined ? undefined : parseIpv4(spec.gateway);
  if (ip === undefined || parseMac(spec.mac) === undefined) throw new MerakError('ALCOR', `Alcor gave ${spec.name} the address '${spec.ip}' and MAC '${spec.mac}': not an IPv4 address and a MAC`);
  if (gw !== undefined && networkOf(gw, spec.prefixLength) !== networkOf(ip, spec.prefixLength)) {
    throw new MerakError('ALCOR', `Alcor gave ${spec.name} ${spec.ip}, outside the gateway ${spec.gateway}'s /${spec.prefixLength}`);
  }
}

/** Wraps a lower-layer error with the code of the layer it came from. */
function tagged(code: 'NETLINK' | 'NETNS' | 'OVSDB', what: string, e: unknown): MerakError {
  if (e instanceof MerakError) return e;
  return new MerakError(code, `${what}: ${errorMessage(e)}`, { cause: e });
}

export class KernelExecutor implements VmExecutor {
  constructor(private readonly deps: KernelExecutorDeps) {}

  async create(spec: VmSpec, timer: StepTimer, opts: CreateOptions = { maybeExists: false }): Promise<CreateOutcome> {
    let maybeExists = opts.maybeExists;
    if (existsSync(nsPath(spec.name))) {
      const existing = await this.existing(spec, timer);
      if (existing) return existing;
      // An unfinished earlier attempt was cleared: what it made elsewhere (an Alcor port) may exist.
      maybeExists = true;
    }
    const ctx: CreateCtx = { spec, timer, maybeExists, ofport: -1, eth0Index: ETH0_INDEX, ...(this.deps.goalState ? { goalState: this.deps.goalState } : {}) };
    const stages = spec.alcor ? this.alcorStages
      : spec.ovn ? (spec.portKind === 'veth' ? this.ovnVethStages : this.ovnInternalStages)
        : spec.portKind === 'veth' ? this.vethStages : this.internalStages;
    try {
      await runStages(stages, ctx, timer);
    } finally {
      ctx.vm?.close();
    }
    return { ofport: ctx.ofport, alreadyPresent: false, ip: ctx.spec.ip, mac: ctx.spec.mac };
  }

  /**
   * The namespace exists. The same VM, complete, is answered as it is; one this vhost started but
   * did not finish (the agent was killed half-way: the namespace, maybe its port, no attached OVS
   * row) is cleared away so the create can start over (undefined); anything else is a conflict.
   */
  private async existing(spec: VmSpec, timer: StepTimer): Promise<CreateOutcome | undefined> {
    const row = await this.deps.interfaces.find(spec.id).catch((e: unknown) => {
      throw new VmFailure('OVSDB', 'admit', `looking up VM ${spec.id}: ${errorMessage(e)}`, { cause: e });
    });
    if (row) {
      const recorded = specOf(row);
      if (!sameSpec(recorded, { ...spec, externalIds: spec.externalIds })) {
        throw new VmFailure('CONFLICT', 'admit', `namespace ${spec.name} already exists and exists with a different spec`);
      }
      if (row.ofport > 0 && (await this.configured(recorded))) {
        if (spec.ovn) await awaitInstalledInPlace(this.ovnDeps(), spec);
        return { ofport: row.ofport, alreadyPresent: true, ip: recorded.ip, mac: recorded.mac };
      }
    } else if (!(await this.startedHere(spec))) {
      throw new VmFailure('CONFLICT', 'admit', `namespace ${spec.name} already exists and is not a VM of this vhost (no OVS port records it)`);
    }
    await timer.time('recover', () => this.clearUnfinished(spec, row?.externalIds[EXT.ovnBridge])).catch((e: unknown) => {
      throw new VmFailure('NETNS', 'recover', `clearing the unfinished ${spec.name}: ${errorMessage(e)}`, { cause: e });
    });
    return undefined;
  }

  /** The VM got as far as its address: eth0 inside carries it (the last step of every kind). */
  private async configured(spec: VmSpec): Promise<boolean> {
    const vm = await NetnsHandle.open(nsPath(spec.name)).catch(() => undefined);
    if (!vm) return false;
    try {
      return (await vm.addrList()).some((a) => a.family === 4 && a.ip === spec.ip);
    } finally {
      vm.close();
    }
  }

  /** This vhost's mark is on the VM's outer veth end, or the namespace holds nothing but lo (made, then the agent died). */
  private async startedHere(spec: VmSpec): Promise<boolean> {
    const link = await this.deps.host.linkGet(spec.portName).catch(() => undefined);
    const owner = parseAlias(link?.alias, this.deps.vhost);
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

  private async clearUnfinished(spec: VmSpec, bridge: string | undefined): Promise<void> {
    await this.committer(bridge).remove(spec.portName, bridge);
    const [err] = await deleteNamespaces([spec.name]);
    if (err && err !== 'ENOENT') throw new MerakError('NETNS', `delete namespace ${spec.name}: ${err}`);
    await this.settle([spec.portName]);
  }

  private readonly namespaceStage: Stage<CreateCtx> = {
    name: 'namespace',
    run: async (ctx) => {
      try {
        ctx.vm = await NetnsHandle.create(ctx.spec.name, { sysctls: VM_SYSCTLS, devices: true, lane: this.deps.lane });
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
  private readonly configureStage: Stage<CreateCtx> = {
    name: 'configure',
    run: async (ctx) => {
      const { spec } = ctx;
      const vm = ctx.vm!;
      try {
        const requests: Promise<unknown>[] = [
          vm.linkSet('lo', { up: true }),
          vm.addrAdd(ctx.eth0Index, spec.ip, spec.prefixLength),
          vm.linkSet(ctx.eth0Index, { up: true }),
        ];
        if (spec.gateway) requests.push(vm.routeAddDefault(spec.gateway, ctx.eth0Index));
        for (const r of spec.routes) requests.push(vm.routeAdd({ dst: r.destination, prefixLength: r.prefixLength, ifindex: ctx.eth0Index, ...(r.via ? { gateway: r.via } : {}) }));
        await Promise.all(requests);
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

  private ovnDeps(): OvnDeps {
    if (!this.deps.ovn) throw new MerakError('FAILED_PRECONDITION', 'this agent was started without OVN support');
    return this.deps.ovn;
  }

  /** Ports on OVN's bridge are committed outside the overlay (they have no VNI). */
  private committer(bridge: string | undefined): PortCommitter {
    return bridge === undefined ? this.deps.ports : this.ovnDeps().ports;
  }

  /** Queues the VM's OVS port (group-committed); resolves to its ofport once vswitchd applied it. */
  private addPort(ctx: CreateCtx, type: '' | 'internal'): Promise<number> {
    const bridge = ctx.ovnBridge;
    const added = this.committer(bridge).add(ctx.spec.portName, type, externalIdsOf(this.deps.vhost, ctx.spec, bridge), ctx.spec.vni, bridge).catch((e: unknown) => {
      throw tagged('OVSDB', `add port ${ctx.spec.portName} to ${bridge ?? 'the bridge'}`, e);
    });
    return bridge === undefined ? added : added.then((ofport) => (markCommitted(ctx), ofport));
  }

  /** Removes the port this VM added; one whose add failed is not ours to remove (its name may be taken). */
  private readonly detach = async (ctx: CreateCtx): Promise<void> => {
    ctx.wait?.cancel();
    // An add still in flight settles first, so the removal cannot overtake it.
    const added = await ctx.attached?.then(() => true, () => false);
    if (added) await this.committer(ctx.ovnBridge).remove(ctx.spec.portName, ctx.ovnBridge);
  };

  /** OVN mode: the bridge and the wait for ovn-installed come before the port is added. */
  private ovnAttach(stage: Stage<CreateCtx>): Stage<CreateCtx> {
    return {
      ...stage,
      run: async (ctx) => {
        await prepareOvnPort(this.ovnDeps(), ctx);
        try {
          await stage.run(ctx);
        } catch (e) {
          ctx.wait?.cancel();
          throw e;
        }
      },
    };
  }

  /** Attach and wait: an internal port exists only once vswitchd made it, and it is moved next. */
  private readonly attachStage: Stage<CreateCtx> = {
    name: 'attach',
    run: async (ctx) => {
      ctx.attached = this.addPort(ctx, 'internal');
      ctx.ofport = await ctx.attached;
    },
    undo: this.detach,
  };

  /**
   * A veth's port is only queued here: the VM is configured while vswitchd applies it, and `ready`
   * waits for it (in a burst, vswitchd's reconfiguration otherwise runs after the lane went idle).
   */
  private readonly queueAttachStage: Stage<CreateCtx> = {
    name: 'attach',
    run: async (ctx) => {
      ctx.attached = this.addPort(ctx, '');
      // Awaited by ready, or by the undo when a later stage fails.
      ctx.attached.catch(() => undefined);
    },
    undo: this.detach,
  };

  /** Readiness as ovs-vsctl defines it: vswitchd applied the port, which has an ofport and no error. */
  private readonly readyStage: Stage<CreateCtx> = {
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

  private readonly vethStages: readonly Stage<CreateCtx>[] = [
    this.namespaceStage,
    {
      name: 'port',
      run: async (ctx) => {
        const { spec } = ctx;
        try {
          await this.deps.host.linkAddVeth({ name: spec.portName, peerName: 'eth0', peerNetnsFd: ctx.vm!.fd!, mtu: spec.mtu, peerMac: spec.mac });
          // The outer end: up, no IPv6 on it (it lives in the vhost's namespace), and the ownership
          // mark (the kernel ignores an alias given at creation).
          await this.deps.host.linkSet(spec.portName, { up: true, addrGenModeNone: true, alias: alias(this.deps.vhost, spec) });
        } catch (e) {
          throw tagged('NETLINK', `create veth ${spec.portName}`, e);
        }
      },
      undo: async (ctx) => {
        await this.deps.host.linkDelete(ctx.spec.portName).catch((e: unknown) => {
          if (!isNotFound(e)) throw e;
        });
      },
    },
    this.queueAttachStage,
    this.configureStage,
    this.readyStage,
  ];

  /**
   * Alcor mode, in Merak's order: Alcor allocates the port, the
   * internal port tap<id11> goes on br-int, then the namespace, the binding to this host, the move
   * into the VM with Alcor's MAC, and the address.
   */
  private get alcorStages(): readonly Stage<CreateCtx>[] {
    return [
      {
        ...allocateStage,
        run: async (ctx) => {
          await allocateStage.run(ctx);
          const port = ctx.port!;
          ctx.spec = { ...ctx.spec, ip: port.ip, mac: port.mac };
          checkAllocated(ctx.spec);
        },
      },
      this.attachStage,
      this.namespaceStage,
      bindStage,
      this.moveStage,
      this.configureStage,
    ];
  }

  private readonly moveStage: Stage<CreateCtx> = {
    name: 'move',
    run: async (ctx) => {
      const { spec } = ctx;
      try {
        await this.deps.host.linkSet(spec.portName, { netnsFd: ctx.vm!.fd!, newName: 'eth0', mac: spec.mac, mtu: spec.mtu });
        const eth0 = await ctx.vm!.linkGet('eth0');
        if (!eth0) throw new MerakError('NETLINK', `eth0 did not appear in ${spec.name}`);
        ctx.eth0Index = eth0.index;
      } catch (e) {
        throw tagged('NETLINK', `move port ${spec.portName} into ${spec.name}`, e);
      }
    },
  };

  private readonly internalStages: readonly Stage<CreateCtx>[] = [
    this.namespaceStage,
    this.attachStage,
    this.moveStage,
    this.configureStage,
  ];

  /** OVN mode: the same steps with the port on OVN's bridge, then `installed` (agent/vm/ovn-stages.ts). */
  private readonly ovnVethStages: readonly Stage<CreateCtx>[] = [
    ...this.vethStages.map((s) => (s === this.queueAttachStage ? this.ovnAttach(s) : s)),
    installedStage,
  ];

  private readonly ovnInternalStages: readonly Stage<CreateCtx>[] = [
    this.namespaceStage,
    this.ovnAttach(this.attachStage),
    this.moveStage,
    this.configureStage,
    installedStage,
  ];

  async delete(ref: VmRef, timer: StepTimer): Promise<DeleteOutcome> {
    const row = await timer.time('lookup', () => this.deps.interfaces.find(ref.id)).catch((e: unknown) => {
      throw new VmFailure('OVSDB', 'lookup', `looking up VM ${ref.id}: ${errorMessage(e)}`, { cause: e });
    });
    const name = row?.externalIds[EXT.vmName] ?? ref.name;
    const hasNamespace = existsSync(nsPath(name));
    if (!row && !hasNamespace) return { status: 'absent', portName: '' };
    // Alcor's port goes first, so Alcor stops programming it before the host drops it.
    const recorded = row ? specOf(row) : undefined;
    if (recorded?.alcor) {
      await releasePort(recorded, timer).catch((e: unknown) => {
        throw new VmFailure('ALCOR', 'release', errorMessage(e), { cause: e });
      });
    }
    if (row) {
      const bridge = row.externalIds[EXT.ovnBridge];
      await timer.time('detach', () => this.committer(bridge).remove(row.name, bridge)).catch((e: unknown) => {
        throw new VmFailure('OVSDB', 'detach', `remove port ${row.name}: ${errorMessage(e)}`, { cause: e });
      });
    }
    if (hasNamespace) {
      const [err] = await timer.time('namespace', () => deleteNamespaces([name]));
      if (err && err !== 'ENOENT') throw new VmFailure('NETNS', 'namespace', `delete namespace ${name}: ${err}`);
    }
    return { status: 'deleted', portName: row?.name ?? '' };
  }

  /** Deleting a namespace destroys its veth pair asynchronously; wait until the outer ends are gone. */
  async settle(deletedPortNames: readonly string[], timeoutMs = 10_000): Promise<void> {
    const wanted = new Set(deletedPortNames.filter((n) => n !== ''));
    const deadline = Date.now() + timeoutMs;
    while (wanted.size > 0 && Date.now() < deadline) {
      const links = await this.deps.host.linkList();
      if (!links.some((l) => wanted.has(l.name))) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async list(): Promise<VmState[]> {
    const [rows, links] = await Promise.all([this.deps.interfaces.list(), this.deps.host.linkList()]);
    const namespaces = new Set(existsSync(NETNS_RUN_DIR) ? readdirSync(NETNS_RUN_DIR) : []);
    const linkNames = new Set(links.map((l) => l.name));
    const states = new Map<string, VmState>();
    for (const row of rows) {
      const s = specOf(row);
      const namespacePresent = namespaces.has(s.name);
      const portPresent = s.portKind === 'veth' ? linkNames.has(row.name) : row.ofport > 0;
      states.set(s.id, {
        id: s.id, name: s.name, ip: s.ip, prefixLength: s.prefixLength, gateway: s.gateway ?? '', mac: s.mac,
        portName: row.name, portKind: s.portKind, ofport: row.ofport, namespacePresent, portPresent,
        complete: namespacePresent && portPresent && row.ofport > 0, ifaceId: s.ifaceId ?? '', vni: s.vni,
      });
    }
    // A veth we marked but whose OVS row never came (a crash mid-create): listed as incomplete.
    for (const link of links) {
      const owner = parseAlias(link.alias, this.deps.vhost);
      if (!owner || states.has(owner.id)) continue;
      states.set(owner.id, {
        id: owner.id, name: owner.name, ip: '', prefixLength: 0, gateway: '', mac: '', portName: link.name, portKind: 'veth',
        ofport: -1, namespacePresent: namespaces.has(owner.name), portPresent: true, complete: false, ifaceId: '', vni: 0,
      });
    }
    return [...states.values()];
  }
}
