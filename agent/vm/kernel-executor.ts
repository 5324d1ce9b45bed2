// The real executor: a VM is a named network namespace with eth0 (a veth peer created inside it,
// or an OVS internal port moved into it), addressed and routed over netlink, attached to br-int
// through one group-committed OVSDB transaction. Ownership lives in external_ids and the veth's
// ifalias, so list and delete read the kernel and OVSDB, never memory.
import { existsSync, readdirSync } from 'node:fs';
import { type KernelLane, NETNS_RUN_DIR } from '@merak/native';
import { MerakError, errorMessage } from '../errors.js';
import { NetnsHandle, deleteNamespaces, isNotFound } from '../netns/index.js';
import type { CreateOutcome, DeleteOutcome, VmExecutor, VmState } from './executor.js';
import { sameSpec } from './hollow-executor.js';
import type { PortCommitter } from './port-committer.js';
import type { PortKind, VmRef, VmRoute, VmSpec } from './spec.js';
import { type Stage, StepTimer, VmFailure, runStages } from './stages.js';

/** external_ids keys the agent owns on each VM's OVS Interface. */
export const EXT = {
  vhost: 'merak-vhost',
  vmId: 'vm-id',
  vmName: 'vm-name',
  ifaceId: 'iface-id',
  attachedMac: 'attached-mac',
  ip: 'merak-ip',
  gateway: 'merak-gateway',
  mtu: 'merak-mtu',
  portKind: 'merak-port-kind',
  vni: 'merak-vni',
  routes: 'merak-routes',
} as const;

/** An Interface row as the executor needs it. */
export interface VmInterfaceRow {
  readonly name: string;
  readonly ofport: number;
  readonly externalIds: Readonly<Record<string, string>>;
}

/** What the executor needs from OVSDB besides port changes. */
export interface VmInterfaceStore {
  /** This vhost's VM interfaces (external_ids merak-vhost = vhost). */
  list(): Promise<VmInterfaceRow[]>;
  /** The interface of one VM, by vm-id. */
  find(vmId: string): Promise<VmInterfaceRow | undefined>;
}

export interface KernelExecutorDeps {
  readonly vhost: string;
  /** A handle on the vhost's own namespace (where br-int and the outer veth ends live). */
  readonly host: NetnsHandle;
  readonly ports: PortCommitter;
  readonly interfaces: VmInterfaceStore;
  /** Where the VMs' kernel work runs in order, off the JS thread (the host handle should use it too). */
  readonly lane?: KernelLane;
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

interface CreateCtx {
  readonly spec: VmSpec;
  /** The VM's namespace: netlink, an ioctl socket and an fd on the namespace, all opened at creation. */
  vm?: NetnsHandle;
  /** The OVS port's add, from attach on: its ofport once vswitchd applied it. */
  attached?: Promise<number>;
  ofport: number;
  /** eth0's index inside the VM: fixed for veths, looked up after an internal port moved in. */
  eth0Index: number;
}

function externalIdsOf(vhost: string, s: VmSpec): Record<string, string> {
  const ids: Record<string, string> = {
    ...s.externalIds,
    [EXT.vhost]: vhost,
    [EXT.vmId]: s.id,
    [EXT.vmName]: s.name,
    [EXT.attachedMac]: s.mac,
    [EXT.ip]: `${s.ip}/${s.prefixLength}`,
    [EXT.mtu]: String(s.mtu),
    [EXT.portKind]: s.portKind,
  };
  if (s.gateway) ids[EXT.gateway] = s.gateway;
  if (s.vni !== 0) ids[EXT.vni] = String(s.vni);
  if (s.routes.length > 0) ids[EXT.routes] = formatRoutes(s.routes);
  if (s.ifaceId) ids[EXT.ifaceId] = s.ifaceId;
  return ids;
}

/** The spec a VM was created with, as recorded in its Interface's external_ids. */
function specOf(row: VmInterfaceRow): VmSpec {
  const e = row.externalIds;
  const [ip = '', prefix = '0'] = (e[EXT.ip] ?? '').split('/');
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(e)) if (!(Object.values(EXT) as string[]).includes(k)) extra[k] = v;
  return {
    id: e[EXT.vmId] ?? '', name: e[EXT.vmName] ?? '', ip, prefixLength: Number(prefix), gateway: e[EXT.gateway],
    mac: e[EXT.attachedMac] ?? '', mtu: Number(e[EXT.mtu] ?? 1500), portKind: (e[EXT.portKind] as PortKind | undefined) ?? 'veth',
    portName: row.name, ifaceId: e[EXT.ifaceId], externalIds: extra, vni: Number(e[EXT.vni] ?? 0), routes: parseRoutes(e[EXT.routes] ?? ''),
  };
}

/** Routes as one external_ids value: "10.1.0.0/16,10.9.0.0/16>10.1.0.254" ('>' = via). */
function formatRoutes(routes: VmSpec['routes']): string {
  return routes.map((r) => `${r.destination}/${r.prefixLength}${r.via ? `>${r.via}` : ''}`).join(',');
}

function parseRoutes(text: string): VmRoute[] {
  if (text === '') return [];
  return text.split(',').map((item) => {
    const [cidr = '', via] = item.split('>');
    const [destination = '', len = '0'] = cidr.split('/');
    return { destination, prefixLength: Number(len), via };
  });
}

/** Wraps a lower-layer error with the code of the layer it came from. */
function tagged(code: 'NETLINK' | 'NETNS' | 'OVSDB', what: string, e: unknown): MerakError {
  if (e instanceof MerakError) return e;
  return new MerakError(code, `${what}: ${errorMessage(e)}`, { cause: e });
}

export class KernelExecutor implements VmExecutor {
  constructor(private readonly deps: KernelExecutorDeps) {}

  async create(spec: VmSpec, timer: StepTimer): Promise<CreateOutcome> {
    if (existsSync(nsPath(spec.name))) return this.existing(spec);
    const ctx: CreateCtx = { spec, ofport: -1, eth0Index: ETH0_INDEX };
    try {
      await runStages(spec.portKind === 'veth' ? this.vethStages : this.internalStages, ctx, timer);
    } finally {
      ctx.vm?.close();
    }
    return { ofport: ctx.ofport, alreadyPresent: false };
  }

  /** The namespace exists: the same VM again is a no-op; anything else is a conflict. */
  private async existing(spec: VmSpec): Promise<CreateOutcome> {
    const row = await this.deps.interfaces.find(spec.id).catch((e: unknown) => {
      throw new VmFailure('OVSDB', 'admit', `looking up VM ${spec.id}: ${errorMessage(e)}`, { cause: e });
    });
    if (row && sameSpec(specOf(row), { ...spec, externalIds: spec.externalIds }) && row.ofport > 0) {
      return { ofport: row.ofport, alreadyPresent: true };
    }
    const why = row ? 'exists with a different spec' : 'is not a VM of this vhost (no OVS port records it)';
    throw new VmFailure('CONFLICT', 'admit', `namespace ${spec.name} already exists and ${why}`);
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

  /** Queues the VM's OVS port (group-committed); resolves to its ofport once vswitchd applied it. */
  private addPort(ctx: CreateCtx, type: '' | 'internal'): Promise<number> {
    return this.deps.ports.add(ctx.spec.portName, type, externalIdsOf(this.deps.vhost, ctx.spec)).catch((e: unknown) => {
      throw tagged('OVSDB', `add port ${ctx.spec.portName} to the bridge`, e);
    });
  }

  /** Removes the port this VM added; one whose add failed is not ours to remove (its name may be taken). */
  private readonly detach = async (ctx: CreateCtx): Promise<void> => {
    // An add still in flight settles first, so the removal cannot overtake it.
    const added = await ctx.attached?.then(() => true, () => false);
    if (added) await this.deps.ports.remove(ctx.spec.portName);
  };

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
      ctx.ofport = await ctx.attached!;
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

  private readonly internalStages: readonly Stage<CreateCtx>[] = [
    this.namespaceStage,
    this.attachStage,
    {
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
    },
    this.configureStage,
  ];

  async delete(ref: VmRef, timer: StepTimer): Promise<DeleteOutcome> {
    const row = await timer.time('lookup', () => this.deps.interfaces.find(ref.id)).catch((e: unknown) => {
      throw new VmFailure('OVSDB', 'lookup', `looking up VM ${ref.id}: ${errorMessage(e)}`, { cause: e });
    });
    const name = row?.externalIds[EXT.vmName] ?? ref.name;
    const hasNamespace = existsSync(nsPath(name));
    if (!row && !hasNamespace) return { status: 'absent', portName: '' };
    if (row) {
      await timer.time('detach', () => this.deps.ports.remove(row.name)).catch((e: unknown) => {
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
