// Prometheus metrics of the coordinator, on a registry of its own (no global default registry).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricSources {
  /** Agents registered and connected now. */
  connectedAgents(): number;
  registeredAgents(): number;
}

export class CoordinatorMetrics {
  readonly registry = new Registry();
  /** Per-VM results as they come back from agents, by status ("ready", "failed", ...). */
  readonly vmResults: Counter<'status'>;
  readonly fanoutRetries: Counter;
  /** Plan chunks whose agent sent no result within the progress deadline. */
  readonly fanoutStalls: Counter;
  readonly agentsLost: Counter;
  /** The coordinator's own calls to an HTTP control plane (Alcor's set-up and teardown), by endpoint and outcome. */
  private readonly controlPlaneSeconds: Histogram<'endpoint' | 'outcome'>;

  constructor(sources: MetricSources) {
    collectDefaultMetrics({ register: this.registry, prefix: 'merak_coordinator_' });
    const registers = [this.registry];
    this.vmResults = new Counter({ name: 'merak_coordinator_vm_results_total', help: 'VM results received from agents', labelNames: ['status'], registers });
    this.fanoutRetries = new Counter({ name: 'merak_coordinator_fanout_retries_total', help: 'Plan chunks sent again after a transient failure', registers });
    this.fanoutStalls = new Counter({ name: 'merak_coordinator_agent_stalls_total', help: 'Plan chunks whose agent sent no result within the progress deadline (the agent was then treated as lost)', registers });
    this.agentsLost = new Counter({ name: 'merak_coordinator_agents_lost_total', help: 'Times an agent was noticed lost', registers });
    this.controlPlaneSeconds = new Histogram({
      name: 'merak_coordinator_control_plane_call_seconds', help: "The coordinator's calls to an HTTP control plane (Alcor: VPCs, subnets, nodes...), by endpoint and outcome (2xx, 4xx, 5xx, error: no answer)",
      labelNames: ['endpoint', 'outcome'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers,
    });
    new Gauge({ name: 'merak_coordinator_agents_connected', help: 'Agents registered and connected', registers, collect() { this.set(sources.connectedAgents()); } });
    new Gauge({ name: 'merak_coordinator_agents_registered', help: 'Agents ever registered with this coordinator', registers, collect() { this.set(sources.registeredAgents()); } });
  }

  /** One call to the control plane: `status` 0 = no answer. */
  controlPlaneCall(endpoint: string, status: number, micros: number): void {
    this.controlPlaneSeconds.observe({ endpoint, outcome: status > 0 ? `${Math.floor(status / 100)}xx` : 'error' }, micros / 1e6);
  }
}
