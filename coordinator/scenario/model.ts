// The validated, immutable scenario. Produced only by parse.ts; nothing downstream re-validates.
import { MerakError } from '@merak/common';

export interface SubnetModel {
  readonly name: string;
  readonly cidr: string;
  readonly network: number;
  readonly prefixLength: number;
  readonly gateway: string;
  readonly vms: number;
  /** Security groups (by name) of its VMs' ports (Alcor and OVN modes). */
  readonly securityGroups: readonly string[];
}

export interface VpcModel {
  readonly name: string;
  readonly cidr: string;
  readonly network: number;
  readonly prefixLength: number;
  readonly vni: number;
  /** The scenario did not name the VNI: the coordinator may pick a free one. */
  readonly vniAuto: boolean;
  readonly subnets: readonly SubnetModel[];
}

export type HostSelection = { readonly kind: 'count'; readonly count: number } | { readonly kind: 'all' } | { readonly kind: 'names'; readonly names: readonly string[] };

export type Placement =
  | { readonly type: 'uniform' }
  | { readonly type: 'random' }
  | { readonly type: 'skew'; readonly vmFraction: number; readonly hostFraction: number }
  | { readonly type: 'assign'; readonly hosts: Readonly<Record<string, number>> };

export type Schedule =
  | { readonly type: 'sequential'; readonly concurrency: number }
  | { readonly type: 'rps'; readonly rate: number; readonly concurrency: number }
  | { readonly type: 'random'; readonly rate: number; readonly concurrency: number };

export interface SecurityGroupRuleModel {
  readonly direction: 'ingress' | 'egress';
  readonly ethertype: 'IPv4' | 'IPv6';
  /** undefined = any */
  readonly protocol: 'tcp' | 'udp' | 'icmp' | undefined;
  readonly portRangeMin: number | undefined;
  readonly portRangeMax: number | undefined;
  readonly remoteIpPrefix: string | undefined;
}

export interface SecurityGroupModel {
  readonly name: string;
  readonly description: string;
  readonly rules: readonly SecurityGroupRuleModel[];
}

/** A router joining subnets of one VPC (Alcor and OVN modes). */
export interface RouterModel {
  readonly name: string;
  readonly vpc: string;
  readonly subnets: readonly string[];
}

export const ALCOR_SERVICES = ['vpc', 'subnet', 'route', 'port', 'node', 'sg'] as const;
export type AlcorServiceName = (typeof ALCOR_SERVICES)[number];

/** Where Alcor is and how to talk to it. */
export interface AlcorSettings {
  /** scheme://host; a service's URL is this with its NodePort, unless `endpoints` names it. undefined = the coordinator's --alcor-url */
  readonly url: string | undefined;
  readonly endpoints: Readonly<Partial<Record<AlcorServiceName, string>>>;
  readonly projectId: string;
  readonly tenantId: string;
  /** per call */
  readonly timeoutMs: number;
  /** retries of a call that failed in a way that is safe to repeat */
  readonly retries: number;
  /**
   * A VM on a host whose agent serves GoalState is ready only once Alcor's push programmed its port
   * there (default). false: ready once bound (an Alcor that pushes nowhere these agents listen).
   */
  readonly awaitGoalState: boolean;
}

/** Where OVN's databases are (provider: ovn). */
export interface OvnSettings {
  /** Northbound: `tcp:HOST:PORT` or `unix:PATH`. undefined = the coordinator's --ovn-nb */
  readonly nb: string | undefined;
  /** Southbound (bound/up times per VM); undefined = the coordinator's --ovn-sb, or none. */
  readonly sb: string | undefined;
  /** Per northbound call, and how long a VM waits for ovn-controller to install its port. */
  readonly timeoutMs: number;
}

export type TestSpec =
  | { readonly kind: 'none' }
  | { readonly kind: 'ping'; readonly pairsPerVpcLimit: number; readonly samplePairs: number; readonly count: number; readonly timeoutMs: number; readonly convergeMs: number; readonly crossVpcChecks: number };

/** What a fault does (`faults[i].kind`); the same names as the report's FaultOutcome. */
export const FAULT_KINDS = ['agent-kill', 'vhost-isolate', 'ovs-restart', 'control-plane-errors', 'control-plane-delay'] as const;
export type FaultKindName = (typeof FAULT_KINDS)[number];

/** When a fault starts: ms after the VMs' creation started, or once that many VMs are ready. */
export type FaultTrigger = { readonly kind: 'at'; readonly atMs: number } | { readonly kind: 'after-ready'; readonly vms: number };

/** Which of the scenario's vhosts a fault hits: named, a count or a fraction (drawn with the scenario's seed). */
export type FaultTargets =
  | { readonly kind: 'names'; readonly names: readonly string[] }
  | { readonly kind: 'count'; readonly count: number }
  | { readonly kind: 'fraction'; readonly fraction: number };

export interface FaultModel {
  readonly kind: FaultKindName;
  readonly when: FaultTrigger;
  /** Vhost faults; undefined for the control-plane faults (they hit the control plane's calls). */
  readonly hosts: FaultTargets | undefined;
  /** How long it lasts (vhost-isolate and the control-plane faults); 0 for agent-kill and ovs-restart, which heal by themselves. */
  readonly forMs: number;
  /** Control-plane faults: the fraction of calls hit. */
  readonly rate: number;
  /** control-plane-errors: the HTTP status answered. */
  readonly status: number;
  /** control-plane-delay: added before a call is passed on. */
  readonly delayMs: number;
}

export interface Scenario {
  readonly name: string;
  readonly seed: number;
  readonly provider: 'standalone' | 'alcor' | 'ovn';
  /** Set when provider is alcor. */
  readonly alcor: AlcorSettings | undefined;
  /** Set when provider is ovn. */
  readonly ovn: OvnSettings | undefined;
  readonly securityGroups: readonly SecurityGroupModel[];
  readonly routers: readonly RouterModel[];
  readonly hosts: HostSelection;
  readonly vpcs: readonly VpcModel[];
  readonly vm: { readonly mtu: number; readonly portKind: 'veth' | 'internal' };
  readonly placement: Placement;
  readonly schedule: Schedule;
  readonly test: TestSpec;
  /** Faults injected while the VMs are created (empty: none). */
  readonly faults: readonly FaultModel[];
}

/** Every problem found, each with the path of the field a user can find in their file. */
export class ScenarioValidationError extends MerakError {
  constructor(readonly issues: readonly { path: string; message: string }[]) {
    super('INVALID_ARGUMENT', `invalid scenario: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { context: { issues: issues.length } });
  }
}
