// Agents register over a long-lived stream: hello, then heartbeats and replies. The registry knows
// who is connected and holds each one's channel (calls down the stream); an agent whose stream
// closes is lost at once, one whose heartbeats stop within a few intervals. The interval grows with the fleet (about `targetBeatsPerSecond` in all), so liveness
// costs the coordinator the same at 10 agents and at 10,000; agents are told when it changes.
import { EventEmitter } from 'node:events';
import { Metadata, type ServerDuplexStream, type ServiceError, status } from '@grpc/grpc-js';
import { REPLACED_TRAILER } from '@merak/common';
import type { coordinatorV1 } from '@merak/proto';
import { AgentChannel } from './agent-channel.js';

/** An agent as its hello described it, and whether its stream is up now. */
export interface RegisteredAgent {
  readonly name: string;
  readonly address: string;
  readonly underlayIp: string;
  readonly underlayMac: string;
  readonly version: string;
  /** '' from agents that do not say (hollow ones, or older than the field). */
  readonly ovsVersion: string;
  readonly capacity: number;
  readonly hollow: boolean;
  connected: boolean;
  lastSeen: number;
}

/**
 * How an agent came to be connected: it registered (a new stream: it may have restarted and lost
 * what it was told), or its heartbeats resumed on the stream it had (it was only late: a starved
 * CPU; it holds everything it was told).
 */
export type ConnectedHow = 'registered' | 'resumed';

export interface RegistryEvents {
  connected: [RegisteredAgent, ConnectedHow];
  lost: [RegisteredAgent];
  /** A newer Register stream took the name; `previousPeer` is where the ended one came from. */
  replaced: [RegisteredAgent, string];
}

export interface RegistryOptions {
  /** The shortest heartbeat interval (small fleets). */
  readonly minHeartbeatMs?: number;
  /** The longest one (huge fleets): a hung agent is noticed within 3 of these. */
  readonly maxHeartbeatMs?: number;
  /** Heartbeats per second the whole fleet may send. */
  readonly targetBeatsPerSecond?: number;
  readonly missedBeforeLost?: number;
}

type Stream = ServerDuplexStream<coordinatorV1.AgentMessage, coordinatorV1.CoordinatorMessage>;

export class AgentRegistry extends EventEmitter<RegistryEvents> {
  private readonly agents = new Map<string, RegisteredAgent>();
  private readonly streams = new Map<string, Stream>();
  private readonly channels = new Map<string, AgentChannel>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly minMs: number;
  private readonly maxMs: number;
  private readonly beatsPerSecond: number;
  private readonly missedBeforeLost: number;
  private intervalMs: number;
  /** After the interval shrinks, agents still on the old one are judged by it until this time. */
  private previousMs = 0;
  private previousUntil = 0;
  private lastSweep = Date.now();

  constructor(opts: RegistryOptions = {}) {
    super();
    this.minMs = opts.minHeartbeatMs ?? 1000;
    this.maxMs = Math.max(this.minMs, opts.maxHeartbeatMs ?? 10_000);
    this.beatsPerSecond = opts.targetBeatsPerSecond ?? 1000;
    this.missedBeforeLost = opts.missedBeforeLost ?? 3;
    this.intervalMs = this.minMs;
    this.setMaxListeners(0);
    this.sweeper = setInterval(() => this.sweep(), this.minMs);
    this.sweeper.unref();
  }

  /** The heartbeat interval agents are told now. */
  get heartbeatIntervalMs(): number {
    return this.intervalMs;
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  /** The channel to a connected agent (calls travel down its Register stream); undefined when it is not connected. */
  clientFor(name: string): AgentChannel | undefined {
    return this.agents.get(name)?.connected ? this.channels.get(name) : undefined;
  }

  /** Resolves true once `name` is connected (at once if it is), false after `timeoutMs` or on abort. */
  waitFor(name: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.agents.get(name)?.connected) return Promise.resolve(true);
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        this.off('connected', onConnected);
        signal?.removeEventListener('abort', onAbort);
        resolve(ok);
      };
      const onConnected = (a: RegisteredAgent): void => {
        if (a.name === name) done(true);
      };
      const onAbort = (): void => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.on('connected', onConnected);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  list(): RegisteredAgent[] {
    return [...this.agents.values()].sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  }

  connected(): RegisteredAgent[] {
    return this.list().filter((a) => a.connected);
  }

  /**
   * Drops an agent that stopped answering (a plan chunk missed its progress deadline) as if its
   * stream had closed: its calls in flight fail, it is lost, and it is back only when it
   * registers again (ending its stream tells a live agent to). A fresh record: heartbeats still
   * on the old stream do not bring it back.
   */
  disconnect(name: string, reason: string): void {
    const agent = this.agents.get(name);
    if (!agent) return;
    const stream = this.streams.get(name);
    this.streams.delete(name);
    const channel = this.channels.get(name);
    this.channels.delete(name);
    channel?.close(`dropped: ${reason}`);
    const dropped = { ...agent, connected: false };
    this.agents.set(name, dropped);
    if (agent.connected) this.emit('lost', dropped);
    stream?.end();
  }

  get(name: string): RegisteredAgent | undefined {
    return this.agents.get(name);
  }

  /** Serves one agent's Register stream. */
  handle(call: Stream): void {
    let agent: RegisteredAgent | undefined;
    let myChannel: AgentChannel | undefined;
    call.on('data', (m: coordinatorV1.AgentMessage) => {
      const now = Date.now();
      if (m.body?.$case === 'hello') {
        const h = m.body.value;
        agent = { name: h.name, address: h.address, underlayIp: h.underlayIp, underlayMac: h.underlayMac, version: h.version, ovsVersion: h.ovsVersion, capacity: h.capacity, hollow: h.hollow, connected: true, lastSeen: now };
        this.agents.set(h.name, agent);
        const previous = this.streams.get(h.name);
        this.streams.set(h.name, call);
        this.channels.get(h.name)?.close('it registered again on another stream');
        // The newer registration wins (a restarted agent must get its name back before the old
        // stream times out); the older stream is ended, saying so, and its agent stops.
        if (previous && previous !== call) {
          const replaced = new Metadata();
          replaced.set(REPLACED_TRAILER, call.getPeer());
          const e: ServiceError = Object.assign(new Error(`vhost ${h.name} registered again from ${call.getPeer()}`), { code: status.ABORTED, details: `vhost ${h.name} registered again from ${call.getPeer()}`, metadata: replaced });
          previous.emit('error', e);
          this.emit('replaced', agent, previous.getPeer());
        }
        const channel = new AgentChannel(h.name, (msg) => call.write(msg));
        this.channels.set(h.name, channel);
        myChannel = channel;
        this.retune();
        call.write({ heartbeatIntervalMs: this.intervalMs, call: undefined, cancel: 0 });
        this.emit('connected', agent, 'registered');
      } else if (m.body?.$case === 'reply') {
        myChannel?.deliver(m.body.value);
      } else if (agent && this.agents.get(agent.name) === agent) {
        agent.lastSeen = now;
        // Heartbeats resumed on the same stream (it was only late): the agent is back.
        if (!agent.connected) {
          agent.connected = true;
          this.emit('connected', agent, 'resumed');
        }
      }
    });
    const gone = (): void => {
      if (agent && this.streams.get(agent.name) === call) this.streams.delete(agent.name);
      if (agent && myChannel && this.channels.get(agent.name) === myChannel) {
        this.channels.delete(agent.name);
        myChannel.close('its registration stream closed');
      }
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

  /** A new interval for the fleet's size; agents are told only when it changes by half or more. */
  private retune(): void {
    const wanted = Math.min(this.maxMs, Math.max(this.minMs, Math.ceil((this.streams.size * 1000) / this.beatsPerSecond)));
    if (wanted < this.intervalMs * 1.5 && wanted > this.intervalMs / 1.5) return;
    this.previousMs = this.intervalMs;
    this.previousUntil = Date.now() + this.intervalMs * this.missedBeforeLost;
    this.intervalMs = wanted;
    for (const s of this.streams.values()) s.write({ heartbeatIntervalMs: wanted, call: undefined, cancel: 0 });
  }

  private sweep(): void {
    // An agent told another interval a moment ago may still beat at the old one: judge by the longer.
    const now = Date.now();
    const judgeMs = now < this.previousUntil ? Math.max(this.previousMs, this.intervalMs) : this.intervalMs;
    // This sweep comes a whole interval late: the coordinator itself was stalled (a starved CPU), and
    // timers run before the heartbeats waiting in its sockets are read. Judging now would lose every
    // agent at once; the next sweep judges them with those beats counted.
    const late = now - this.lastSweep > this.minMs + judgeMs;
    this.lastSweep = now;
    if (late) return;
    const deadline = now - judgeMs * this.missedBeforeLost;
    for (const a of this.agents.values()) {
      if (a.connected && a.lastSeen < deadline) {
        a.connected = false;
        this.emit('lost', a);
      }
    }
  }
}
