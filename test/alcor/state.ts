// Everything the emulated Alcor remembers across calls. One object for all six services, because
// in Alcor they call each other synchronously (subnet create makes a port, port create reads the
// VPC, subnet, SGs and nodes); each service module owns its part.
import type { Logger } from 'pino';
import type { NodeInfo, PortEntity, RouteTable, RouterEntity, SecurityGroup, SecurityGroupRule, SubnetEntity, VpcEntity } from './entities.js';
import { AlcorHttpError } from './errors.js';
import type { Ipv4Range } from './ip-allocator.js';
import { MacAllocator } from './mac-allocator.js';
import { seededRandom } from './random.js';

/**
 * What a bind means in Alcor: PM resolves `binding:host_id` to a node by `node_name`, DPM builds
 * the port's GoalState and NCM pushes it to the host agent at `node.local_ip:50001`, and the HTTP
 * answer waits until that finished. A bind hook (tests) or the GoalState push (goalstate/)
 * receives these.
 */
export interface PortBinding {
  /** The port-manager request that triggered the push. */
  readonly request: 'create' | 'update' | 'delete';
  /** The PortState operation DPM would send (`DPM/service/impl/PortService.java`). */
  readonly portState: 'CREATE' | 'UPDATE' | 'DELETE';
  readonly projectId: string;
  /** The port after processing (a copy). */
  readonly port: PortEntity;
  /** The node whose `node_name` equals `binding:host_id` (a copy). */
  readonly node: NodeInfo;
}

/**
 * Called for every bound create/update/delete; the HTTP answer waits for it (quirk 10). It decides
 * the status a later GET shows: ACTIVE unless it returns {status:'FAILED'} or throws (Alcor marks
 * a port FAILED when its host is in DPM's failed_hosts and still answers 2xx). Its result is
 * ignored for deletes.
 */
export type BindHook = (binding: PortBinding) => Promise<BindResult | void> | BindResult | void;
export interface BindResult { readonly status: 'ACTIVE' | 'FAILED' }

/**
 * The GoalState push as the port and route managers see it (goalstate/ implements it). A bind
 * hook, when set, takes precedence for port changes, so tests can still stub the push.
 */
export interface GoalStateSink {
  /** One REST call's bound-port changes, pushed together; each non-delete port's new status. */
  pushPorts(bindings: readonly PortBinding[]): Promise<ReadonlyMap<string, BindResult['status']>>;
  /** A subnet was attached to or detached from a router (the state already shows it). */
  routerInterfaceChanged(routerId: string, subnetId: string, change: 'add' | 'remove'): Promise<void>;
  /** Forget what was pushed (the server's reset). */
  clear(): void;
}

/** A copy of the whole state, for tests and the control endpoint. */
export interface AlcorSnapshot {
  /** As GET shows them: `subnets` filled with the VPC's subnet ids. */
  readonly vpcs: VpcEntity[];
  readonly subnets: SubnetEntity[];
  /** Every port, gateway ports included, with the status a GET would show. */
  readonly ports: PortEntity[];
  /** Every SG, the tenants' `default` SGs included. */
  readonly securityGroups: SecurityGroup[];
  /** The SG manager's rule cache: every rule by id, the groups' own (default ones included). */
  readonly securityGroupRules: SecurityGroupRule[];
  readonly routers: RouterEntity[];
  readonly nodes: NodeInfo[];
  /** SG id → the ports bound to it (explicit `security_groups` only). */
  readonly securityGroupBindings: Record<string, string[]>;
  /** Subnet id → what `GET …/subnet-port-count/{s}` answers. */
  readonly subnetPortCounts: Record<string, number>;
  /** Subnet id → the addresses IPM holds as allocated, ascending. */
  readonly allocatedIps: Record<string, string[]>;
  /** Every MAC the MAC manager holds, sorted. */
  readonly allocatedMacs: string[];
}

/** VNI = 4096·k + lowest free offset in a random partition k of [0, 4096). */
export class VniAllocator {
  private readonly next = new Map<number, number>();
  constructor(private readonly random: () => number) {}

  allocate(): number {
    const k = this.random() % 4096;
    const offset = this.next.get(k) ?? 0;
    if (offset >= 4096) throw new AlcorHttpError(500, 'NetworkKeyNotEnoughException');
    this.next.set(k, offset + 1);
    return 4096 * k + offset;
  }
}

const clone = <T>(v: T): T => structuredClone(v);

export class AlcorState {
  readonly vpcs = new Map<string, VpcEntity>();
  /** The VPC manager's separate subnet-id cache (`VPC/dao/VpcRepository.java addSubnetId`, quirk 3). */
  readonly vpcSubnetIds = new Map<string, string[]>();
  readonly subnets = new Map<string, SubnetEntity>();
  /** IPM ranges by subnet id. */
  readonly ranges = new Map<string, Ipv4Range>();
  /** The route manager's per-subnet route tables (made by subnet create). */
  readonly subnetRouteTables = new Map<string, RouteTable>();
  readonly ports = new Map<string, PortEntity>();
  /** PM's SubnetPortsRepository: `subnet/port` keys of non-gateway ports (quirk 5). */
  readonly subnetPorts = new Set<string>();
  readonly securityGroups = new Map<string, SecurityGroup>();
  /** SG manager's rule cache by rule id (`SG/repo/SecurityGroupRepository.java`): what the rules API lists. */
  readonly securityGroupRules = new Map<string, SecurityGroupRule>();
  /** tenant id → its auto-created `default` SG (quirk 4). */
  readonly defaultSgByTenant = new Map<string, string>();
  /** SG id → bound port ids. */
  readonly sgBindings = new Map<string, Set<string>>();
  readonly routers = new Map<string, RouterEntity>();
  readonly nodes = new Map<string, NodeInfo>();
  macs: MacAllocator;
  vnis: VniAllocator;
  bindHook: BindHook | undefined;
  goalState: GoalStateSink | undefined = undefined;
  readonly logger: Logger | undefined;
  private readonly seed: number;

  constructor(seed: number, bindHook: BindHook | undefined, logger: Logger | undefined) {
    this.seed = seed;
    this.bindHook = bindHook;
    this.logger = logger;
    this.macs = new MacAllocator(seededRandom(seed));
    this.vnis = new VniAllocator(seededRandom(seed ^ 0x5eed));
  }

  /** Forgets everything; allocation restarts from the same seed. */
  clear(): void {
    for (const m of [this.vpcs, this.vpcSubnetIds, this.subnets, this.ranges, this.subnetRouteTables, this.ports,
      this.securityGroups, this.securityGroupRules, this.defaultSgByTenant, this.sgBindings, this.routers, this.nodes]) m.clear();
    this.subnetPorts.clear();
    this.goalState?.clear();
    this.macs = new MacAllocator(seededRandom(this.seed));
    this.vnis = new VniAllocator(seededRandom(this.seed ^ 0x5eed));
  }

  subnetPortCount(subnetId: string): number {
    let n = 0;
    for (const key of this.subnetPorts) if (key.startsWith(`${subnetId}/`)) n++;
    return n;
  }

  snapshot(): AlcorSnapshot {
    const bindings: Record<string, string[]> = {};
    for (const [sg, ports] of this.sgBindings) if (ports.size > 0) bindings[sg] = [...ports].sort();
    const counts: Record<string, number> = {};
    const ips: Record<string, string[]> = {};
    for (const id of this.subnets.keys()) counts[id] = this.subnetPortCount(id);
    for (const [id, range] of this.ranges) ips[id] = range.allocated();
    return {
      vpcs: [...this.vpcs.values()].map((v) => ({ ...clone(v), subnets: [...(this.vpcSubnetIds.get(v.id) ?? [])] })),
      subnets: [...this.subnets.values()].map(clone),
      ports: [...this.ports.values()].map(clone),
      securityGroups: [...this.securityGroups.values()].map(clone),
      securityGroupRules: [...this.securityGroupRules.values()].map(clone),
      routers: [...this.routers.values()].map(clone),
      nodes: [...this.nodes.values()].map(clone),
      securityGroupBindings: bindings,
      subnetPortCounts: counts,
      allocatedIps: ips,
      allocatedMacs: this.macs.all(),
    };
  }
}
