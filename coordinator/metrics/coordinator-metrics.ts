// Prometheus metrics of the coordinator, on a registry of its own (no global default registry).
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

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

  constructor(sources: MetricSources) {
    collectDefaultMetrics({ register: this.registry, prefix: 'merak_coordinator_' });
    const registers = [this.registry];
    this.vmResults = new Counter({ name: 'merak_coordinator_vm_results_total', help: 'VM results received from agents', labelNames: ['status'], registers });
    this.fanoutRetries = new Counter({ name: 'merak_coordinator_fanout_retries_total', help: 'Plan chunks sent again after a transient failure', registers });
    this.fanoutStalls = new Counter({ name: 'merak_coordinator_agent_stalls_total', help: 'Plan chunks whose agent sent no result within the progress deadline (the agent was then treated as lost)', registers });
    this.agentsLost = new Counter({ name: 'merak_coordinator_agents_lost_total', help: 'Times an agent was noticed lost', registers });
    new Gauge({ name: 'merak_coordinator_agents_connected', help: 'Agents registered and connected', registers, collect() { this.set(sources.connectedAgents()); } });
    new Gauge({ name: 'merak_coordinator_agents_registered', help: 'Agents ever registered with this coordinator', registers, collect() { this.set(sources.registeredAgents()); } });
  }
}
