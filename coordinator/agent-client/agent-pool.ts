// One client per connected agent, made when it registers and replaced when it registers again
// (a restarted agent may listen elsewhere). The engine and the CLI ask the pool, never the registry.
import type { AgentRegistry, RegisteredAgent } from '../registry/agent-registry.js';
import { AgentClient } from './agent-client.js';

export class AgentPool {
  private readonly clients = new Map<string, AgentClient>();
  private readonly onConnected = (a: RegisteredAgent): void => {
    this.clients.get(a.name)?.close();
    this.clients.set(a.name, new AgentClient(a.address, { ...(this.token ? { token: this.token } : {}), deadlineMs: this.deadlineMs }));
  };

  constructor(private readonly registry: AgentRegistry, private readonly token: string | undefined, private readonly deadlineMs = 120_000) {
    registry.on('connected', this.onConnected);
    for (const a of registry.connected()) this.onConnected(a);
  }

  /** The client of a connected agent; undefined while it is not connected. */
  clientFor(host: string): AgentClient | undefined {
    return this.registry.get(host)?.connected ? this.clients.get(host) : undefined;
  }

  close(): void {
    this.registry.off('connected', this.onConnected);
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
