// One client per connected agent, made when it registers and replaced when it registers again
// (a restarted agent may listen elsewhere). The pool dials the agent back at once: an address that
// does not answer is reported then, not when a scenario needs it, and a scenario's fan-out does
// not pay for thousands of connection set-ups. The engine and the CLI ask the pool, never the registry.
import type { Logger } from 'pino';
import type { AgentRegistry, RegisteredAgent } from '../registry/agent-registry.js';
import { AgentClient } from './agent-client.js';

export class AgentPool {
  private readonly clients = new Map<string, AgentClient>();
  private readonly onConnected = (a: RegisteredAgent): void => {
    this.clients.get(a.name)?.close();
    const client = new AgentClient(a.address, { ...(this.token ? { token: this.token } : {}), deadlineMs: this.deadlineMs });
    this.clients.set(a.name, client);
    const dial = client.connect().catch((e: unknown) => {
      if (this.clients.get(a.name) === client) this.logger?.warn({ agent: a.name, address: a.address, err: e }, 'agent registered, but its address does not answer');
    });
    this.dials.add(dial);
    void dial.finally(() => this.dials.delete(dial));
  };
  private readonly dials = new Set<Promise<void>>();

  constructor(private readonly registry: AgentRegistry, private readonly token: string | undefined, private readonly deadlineMs = 120_000, private readonly logger?: Logger) {
    registry.on('connected', this.onConnected);
    for (const a of registry.connected()) this.onConnected(a);
  }

  /** Resolves when every dial-back started so far has connected or failed. */
  async dialed(): Promise<void> {
    while (this.dials.size > 0) await Promise.all([...this.dials]);
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
