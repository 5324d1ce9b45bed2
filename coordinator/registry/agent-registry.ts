// Agents register over a long-lived stream: hello, then heartbeats. The registry knows who is
// connected; an agent whose stream closes or whose heartbeats stop is "lost" within a few seconds.
import { EventEmitter } from 'node:events';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { coordinatorV1 } from '@merak/proto';
import type { StoredAgent } from '../store/store.js';

/** An agent as the store records it, plus whether its stream is up now. */
export type RegisteredAgent = Omit<StoredAgent, 'lastSeen'> & { connected: boolean; lastSeen: number };

export interface RegistryEvents {
  connected: [RegisteredAgent];
  lost: [RegisteredAgent];
}

export class AgentRegistry extends EventEmitter<RegistryEvents> {
  private readonly agents = new Map<string, RegisteredAgent>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(readonly heartbeatIntervalMs = 1000, private readonly missedBeforeLost = 3) {
    super();
    this.sweeper = setInterval(() => this.sweep(), heartbeatIntervalMs);
    this.sweeper.unref();
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  list(): RegisteredAgent[] {
    return [...this.agents.values()].sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  }

  connected(): RegisteredAgent[] {
    return this.list().filter((a) => a.connected);
  }

  get(name: string): RegisteredAgent | undefined {
    return this.agents.get(name);
  }

  /** Serves one agent's Register stream. */
  handle(call: ServerDuplexStream<coordinatorV1.AgentMessage, coordinatorV1.CoordinatorMessage>): void {
    let agent: RegisteredAgent | undefined;
    call.on('data', (m: coordinatorV1.AgentMessage) => {
      const now = Date.now();
      if (m.body?.$case === 'hello') {
        const h = m.body.value;
        agent = { name: h.name, address: h.address, underlayIp: h.underlayIp, version: h.version, capacity: h.capacity, hollow: h.hollow, connected: true, lastSeen: now };
        this.agents.set(h.name, agent);
        call.write({ heartbeatIntervalMs: this.heartbeatIntervalMs });
        this.emit('connected', agent);
      } else if (agent && this.agents.get(agent.name) === agent) {
        agent.lastSeen = now;
        // Heartbeats resumed on the same stream (it was only late): the agent is back.
        if (!agent.connected) {
          agent.connected = true;
          this.emit('connected', agent);
        }
      }
    });
    const gone = (): void => {
      if (agent && agent.connected && this.agents.get(agent.name) === agent) {
        agent.connected = false;
        this.emit('lost', agent);
      }
    };
    call.on('end', () => {
      gone();
      call.end();
    });
    call.on('error', gone);
    call.on('cancelled', gone);
  }

  private sweep(): void {
    const deadline = Date.now() - this.heartbeatIntervalMs * this.missedBeforeLost;
    for (const a of this.agents.values()) {
      if (a.connected && a.lastSeen < deadline) {
        a.connected = false;
        this.emit('lost', a);
      }
    }
  }
}
