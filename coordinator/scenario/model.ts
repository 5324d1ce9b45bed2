// The validated, immutable scenario. Produced only by parse.ts; nothing downstream re-validates.

export interface SubnetModel {
  readonly name: string;
  readonly cidr: string;
  readonly network: number;
  readonly prefixLength: number;
  readonly gateway: string;
  readonly vms: number;
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

export type TestSpec =
  | { readonly kind: 'none' }
  | { readonly kind: 'ping'; readonly pairsPerVpcLimit: number; readonly samplePairs: number; readonly count: number; readonly timeoutMs: number; readonly crossVpcChecks: number };

export interface Scenario {
  readonly name: string;
  readonly seed: number;
  readonly provider: 'standalone' | 'alcor';
  readonly hosts: HostSelection;
  readonly vpcs: readonly VpcModel[];
  readonly vm: { readonly mtu: number; readonly portKind: 'veth' | 'internal' };
  readonly placement: Placement;
  readonly schedule: Schedule;
  readonly test: TestSpec;
}

/** Every problem found, each with the path of the field a user can find in their file. */
export class ScenarioValidationError extends Error {
  readonly code = 'INVALID_SCENARIO';
  constructor(readonly issues: readonly { path: string; message: string }[]) {
    super(`invalid scenario: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
    this.name = 'ScenarioValidationError';
  }
}
