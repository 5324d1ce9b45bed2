// Prometheus metrics of one agent, on a registry of its own (no global default registry).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { GoalStateMetrics } from '../goalstate/host-agent.js';
import { INSTALLED_STEP } from '../vm/ovn-stages.js';
import type { VmResult } from '../vm/runner.js';

export class AgentMetrics implements GoalStateMetrics {
  readonly registry = new Registry();
  private readonly stepSeconds: Histogram<'step'>;
  private readonly vmSeconds: Histogram<'operation'>;
  private readonly created: Counter;
  private readonly deleted: Counter;
  private readonly failed: Counter<'code' | 'step'>;
  private readonly neighborSeconds: Histogram;
  private readonly neighborEntries: Gauge;
  private readonly tunnelFlows: Gauge;
  private readonly flowMods: Counter;
  private readonly goalStateMessages: Counter<'version' | 'kind'>;
  private readonly goalStateResources: Counter<'type' | 'operation' | 'status'>;
  private readonly goalStateSeconds: Histogram;
  private readonly ovnInstalledSeconds: Histogram;
  private readonly ovnPorts: Counter<'outcome'>;
  private readonly controlPlaneSeconds: Histogram<'endpoint' | 'outcome'>;

  constructor(vhost: string, presentVms: () => number) {
    this.registry.setDefaultLabels({ vhost });
    collectDefaultMetrics({ register: this.registry, prefix: 'merak_agent_' });
    const registers = [this.registry];
    // Buckets from 50 µs to 10 s: a netlink step is ~100 µs, an OVS commit can take seconds.
    const buckets = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    this.stepSeconds = new Histogram({ name: 'merak_agent_step_duration_seconds', help: 'Duration of each VM step', labelNames: ['step'], buckets, registers });
    this.vmSeconds = new Histogram({ name: 'merak_agent_vm_duration_seconds', help: 'Duration of a whole VM create or delete', labelNames: ['operation'], buckets, registers });
    this.created = new Counter({ name: 'merak_agent_vms_created_total', help: 'VMs created', registers });
    this.deleted = new Counter({ name: 'merak_agent_vms_deleted_total', help: 'VMs deleted', registers });
    this.failed = new Counter({ name: 'merak_agent_vms_failed_total', help: 'VM operations that failed', labelNames: ['code', 'step'], registers });
    new Gauge({ name: 'merak_agent_vms_present', help: 'VMs present on this vhost', registers, collect() { this.set(presentVms()); } });
    this.neighborSeconds = new Histogram({ name: 'merak_agent_neighbor_update_duration_seconds', help: 'An UpdateNeighbors call, from arrival to vswitchd\'s barrier reply', buckets, registers });
    this.neighborEntries = new Gauge({ name: 'merak_agent_neighbors', help: 'Entries in the neighbor table', registers });
    this.tunnelFlows = new Gauge({ name: 'merak_agent_tunnel_bridge_flows', help: 'Flows the agent keeps on br-tun', registers });
    this.flowMods = new Counter({ name: 'merak_agent_flow_mods_total', help: 'flow_mods sent to br-tun for neighbor changes', registers });
    this.goalStateMessages = new Counter({ name: 'merak_agent_goalstate_messages_total', help: 'GoalState messages applied (version v1/v2; kind warmup = empty)', labelNames: ['version', 'kind'], registers });
    this.goalStateResources = new Counter({ name: 'merak_agent_goalstate_resources_total', help: 'GoalState resource statuses sent back, by resource type, operation and status', labelNames: ['type', 'operation', 'status'], registers });
    this.ovnInstalledSeconds = new Histogram({ name: 'merak_agent_ovn_installed_seconds', help: 'OVN VMs: port committed to OVSDB -> ovn-controller marked it ovn-installed', buckets, registers });
    this.ovnPorts = new Counter({ name: 'merak_agent_ovn_ports_total', help: 'OVN VM ports by outcome of the ovn-installed wait (installed, timeout, failed)', labelNames: ['outcome'], registers });
    this.controlPlaneSeconds = new Histogram({
      name: 'merak_agent_control_plane_call_seconds', help: "The agent's calls to an HTTP control plane (Alcor's port service), by endpoint and outcome (2xx, 4xx, 5xx, error: no answer)",
      labelNames: ['endpoint', 'outcome'], buckets, registers,
    });
    this.goalStateSeconds = new Histogram({ name: 'merak_agent_goalstate_programming_seconds', help: 'Time to apply one GoalState message (its message_total_operation_time)', buckets, registers });
  }

  message(version: 'v1' | 'v2', empty: boolean): void {
    this.goalStateMessages.inc({ version, kind: empty ? 'warmup' : 'state' });
  }

  resource(type: string, operation: string, status: string): void {
    this.goalStateResources.inc({ type, operation, status });
  }

  programmingSeconds(seconds: number): void {
    this.goalStateSeconds.observe(seconds);
  }

  neighborUpdate(o: { neighbors: number; flows: number; flowsAdded: number; flowsRemoved: number; micros: number }): void {
    this.neighborSeconds.observe(o.micros / 1e6);
    this.neighborEntries.set(o.neighbors);
    this.tunnelFlows.set(o.flows);
    this.flowMods.inc(o.flowsAdded + o.flowsRemoved);
  }

  /** Gauges and a counter for a supervised host agent (only when there is one). */
  hostAgent(status: () => { state: string; restarts: number }): void {
    const registers = [this.registry];
    new Gauge({ name: 'merak_agent_host_agent_up', help: 'The supervised host agent runs (1) or not (0)', registers, collect() { this.set(status().state === 'running' ? 1 : 0); } });
    new Gauge({ name: 'merak_agent_host_agent_restarts', help: 'Times the supervised host agent was restarted', registers, collect() { this.set(status().restarts); } });
  }

  observe(r: VmResult): void {
    for (const s of r.steps) this.stepSeconds.observe({ step: s.step }, s.micros / 1e6);
    for (const c of r.apiCalls) this.controlPlaneSeconds.observe({ endpoint: c.endpoint, outcome: c.status > 0 ? `${Math.floor(c.status / 100)}xx` : 'error' }, c.micros / 1e6);
    this.vmSeconds.observe({ operation: r.operation }, r.totalMicros / 1e6);
    const installed = r.steps.find((s) => s.step === INSTALLED_STEP);
    if (installed) {
      const ok = r.status === 'ready';
      if (ok) this.ovnInstalledSeconds.observe(installed.micros / 1e6);
      this.ovnPorts.inc({ outcome: ok ? 'installed' : r.error?.code === 'TIMEOUT' ? 'timeout' : 'failed' });
    }
    if (r.status === 'failed') this.failed.inc({ code: r.error?.code ?? 'INTERNAL', step: r.error?.step ?? 'unknown' });
    else if (r.status === 'ready' && r.steps.length > 0) this.created.inc();
    else if (r.status === 'deleted') this.deleted.inc();
  }
}
