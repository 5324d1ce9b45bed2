// What a control plane does for a scenario, seen from the engine: set its network up before any
// VM, add what it needs to each VM's create request, and take the network down after the VMs.
// One implementation per control plane (standalone, alcor, ovn); main.ts registers them by name.
import { type ErrorContext, MerakError, type MerakErrorCode } from '@merak/common';
import { agentV1 } from '@merak/proto';
import type { EndpointLatency } from '../report/report.js';
import type { Logger } from 'pino';
import type { NeighborVm } from '../tunnel-sets/tunnel-sets.js';
import type { Plan, PlannedVm } from '../plan/index.js';
import type { Scenario } from '../scenario/index.js';

export interface ScenarioContext {
  readonly id: string;
  readonly seq: number;
  readonly scenario: Scenario;
  readonly plan: Plan;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** Started by another coordinator (or before a restart): what it made may exist already. */
  readonly resumed?: boolean;
}

/** A step a control plane timed for a VM on the coordinator's side (merged into the VM's stored steps). */
export interface ControlPlaneStep {
  readonly step: string;
  readonly micros: number;
}

export interface ControlPlane {
  /**
   * Its scenarios' VMs are on the coordinator's tunnel sets (standalone): the engine's liveVnis and
   * liveNeighbors cover its scenarios, and only those of such control planes.
   */
  readonly onTunnelSets?: boolean;
  /** It allocates the VMs' addresses (Alcor): the ping test reads each VM's own from its result, not the plan's. */
  readonly allocatesAddresses?: boolean;
  /** Before a scenario is accepted: what this control plane cannot run, by field (none: []). */
  check?(scenario: Scenario): Array<{ path: string; message: string }>;
  /**
   * After check, before the scenario is accepted: the scenario as this control plane runs it
   * (standalone: its VPCs' VNIs chosen), given the live scenarios of the same provider (their VMs
   * may exist). Throws a ScenarioValidationError to refuse it.
   */
  prepareScenario?(scenario: Scenario, live: readonly Scenario[]): Scenario;
  /** Before any VM. Idempotent: a resumed scenario calls it again. Throws to fail the scenario. */
  setUp(ctx: ScenarioContext): Promise<void>;
  /**
   * Before a chunk of VMs goes to its agent (OVN: their ports written into the northbound
   * database). `attempt` > 0: an earlier try threw, so part of it may be done. Throws to have it
   * tried again; when retries are spent, the chunk's VMs fail without being sent.
   */
  prepareChunk?(ctx: ScenarioContext, vms: readonly PlannedVm[], attempt: number): Promise<void>;
  /** Fills in what this control plane adds to VM `vm`'s create request. */
  decorate(ctx: ScenarioContext, vm: PlannedVm, spec: agentV1.VmSpec): void;
  /** After the scenario's VMs are gone. Throws a ControlPlaneError listing what could not be removed. */
  tearDown(ctx: ScenarioContext): Promise<void>;
  /** An agent registered (again): it may have restarted or moved. */
  agentConnected?(host: string): void;
  /** A VM's result came back (it carries the control-plane calls made for it). */
  observe?(ctx: ScenarioContext, result: agentV1.VmResult): void;
  /** Per endpoint, the latency of the calls made for a scenario (for its report). */
  latency?(scenarioId: string): EndpointLatency[] | undefined;
  /** Its software version for a scenario's report, where its API tells one ('' or absent: not known). */
  version?(scenarioId: string): string;
  /**
   * After the fan-out: the steps timed on the coordinator's side per VM index (OVN: NB write,
   * bound, up), merged into the VMs' stored results so the report's step quantiles include them.
   */
  vmSteps?(ctx: ScenarioContext): Promise<Map<number, ControlPlaneStep[]>>;
  /** The coordinator is stopping: connections closed, timers stopped. */
  close?(): void;
}

/** What a control plane may know of the engine's scenarios. */
export interface LiveScenarios {
  /** The VNIs each vhost has VMs in, over every scenario on the tunnel sets whose VMs may exist (but `except`). */
  liveVnis(except?: string): Map<string, Set<number>>;
  /**
   * For each host of `hosts`, every VM of the VNIs it has VMs in (its own included): its neighbor
   * table. Over the scenario `only` when given, else over every scenario on the tunnel sets
   * whose VMs may exist (but `except`). Work grows with the VMs of the hosts asked for.
   */
  liveNeighbors(hosts: ReadonlySet<string>, opts: { only?: string; except?: string }): Map<string, NeighborVm[]>;
  /** The hosts of every scenario of `provider` whose VMs may exist (but `except`). */
  liveHosts(provider: Scenario['provider'], except?: string): Set<string>;
}

/**
 * A VM's create request as the plan has it, before its control plane decorates it. Every field
 * set: ts-proto's encoder reads them all, and a literal is cheaper than fromPartial.
 */
export function plannedVmSpec(ctx: ScenarioContext, vm: PlannedVm): agentV1.VmSpec {
  const s = ctx.scenario;
  return {
    id: vm.id, name: vm.name, ip: vm.ip, prefixLength: vm.prefixLength, gateway: vm.gateway, mac: vm.mac, mtu: s.vm.mtu,
    portKind: s.vm.portKind === 'internal' ? agentV1.PortKind.PORT_KIND_INTERNAL : agentV1.PortKind.PORT_KIND_VETH,
    portName: vm.portName, ifaceId: '', externalIds: {}, vni: 0, routes: [], alcor: undefined, ovn: undefined,
  };
}

/** Makes a provider's control plane; the engine calls it once, with itself. */
export type ControlPlaneFactory = (live: LiveScenarios) => ControlPlane;

/** What a control plane could not do (code CONTROL_PLANE unless a subclass says); `leftovers`: what it could not remove. */
export class ControlPlaneError extends MerakError {
  constructor(message: string, readonly leftovers: readonly string[] = [], options: { cause?: unknown; code?: MerakErrorCode; context?: ErrorContext } = {}) {
    super(
      options.code ?? 'CONTROL_PLANE',
      leftovers.length > 0 ? `${message}: ${leftovers.slice(0, 10).join('; ')}${leftovers.length > 10 ? ` (+${leftovers.length - 10} more)` : ''}` : message,
      { context: { ...options.context, leftovers: leftovers.length }, cause: options.cause },
    );
  }
}
