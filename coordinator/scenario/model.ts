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
}

/** Every problem found, each with the path of the field a user can find in their file. */
export class ScenarioValidationError extends MerakError {
  constructor(readonly issues: readonly { path: string; message: string }[]) {
    super('INVALID_ARGUMENT', `invalid scenario: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { context: { issues: issues.length } });
  }
}
